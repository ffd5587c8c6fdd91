/**
 * Every setting of the broker, declared once: its env var, default, meaning
 * and check. Parsed and validated once at start; a bad value stops the process
 * with one line naming the variable (see `ConfigError`).
 */
import { z } from "zod";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { CidrList, parseCidr, type Cidr } from "./net/cidr-list.js";

/** A configuration mistake: names the variable and what is wrong with it. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`${variable}: ${problem}`);
  }
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** One entry of BROKER_ENCRYPTION_KEYS: `kid:base64(32 bytes)`. */
export interface EncryptionKeySpec {
  kid: string;
  key: Uint8Array;
}

function parseEncryptionKeys(raw: string, ctx: z.RefinementCtx): EncryptionKeySpec[] {
  const specs: EncryptionKeySpec[] = [];
  for (const [index, entry] of raw
    .split(",")
    .map((s) => s.trim())
    .entries()) {
    const colon = entry.indexOf(":");
    const kid = colon === -1 ? "" : entry.slice(0, colon);
    const encoded = colon === -1 ? "" : entry.slice(colon + 1);
    if (!KEY_ID.test(kid)) {
      ctx.addIssue({ code: "custom", message: `entry ${index + 1} must be kid:base64key with a kid of [A-Za-z0-9_-]{1,32}` });
      return z.NEVER;
    }
    const key = Buffer.from(encoded, "base64");
    if (key.length !== 32 || key.toString("base64").replace(/=+$/, "") !== encoded.replace(/=+$/, "")) {
      ctx.addIssue({ code: "custom", message: `key "${kid}" must be 32 bytes in base64` });
      return z.NEVER;
    }
    if (specs.some((s) => s.kid === kid)) {
      ctx.addIssue({ code: "custom", message: `key id "${kid}" appears twice` });
      return z.NEVER;
    }
    specs.push({ kid, key: new Uint8Array(key) });
  }
  return specs;
}

/** BROKER_DYNAMIC_REGISTRATION: who may register a client at POST /oauth/register. */
export const DYNAMIC_REGISTRATION_MODES = ["off", "token", "open"] as const;
export type DynamicRegistrationMode = (typeof DYNAMIC_REGISTRATION_MODES)[number];

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** A whole number written in decimal: "abc", "1.5" and "  " are refused (z.coerce would read "  " as 0). */
const integer = (min: number, max: number, range: string) =>
  z
    .string()
    .regex(/^-?\d+$/, "must be an integer")
    .transform(Number)
    .pipe(z.number().min(min, range).max(max, range));

/** An IP address or a DNS name, as `server.listen(port, host)` takes it. */
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

const url = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL starting with ${protocols.map((p) => `${p}//`).join(" or ")}`,
  );

/**
 * The schema of the environment. Keys are env var names; each has its
 * default (where one is safe) and its check.
 */
const envSchema = z.object({
  /** PostgreSQL connection URL. */
  DATABASE_URL: url(["postgresql:", "postgres:"]).default("postgresql://postgres:postgres@127.0.0.1:5432/authbroker"),
  /** Redis URL (BullMQ, locks, rate limits, replay caches). */
  REDIS_URL: url(["redis:", "rediss:"]).default("redis://127.0.0.1:6379"),
  /** TCP port the HTTP server listens on. */
  PORT: integer(0, 65535, "must be 0-65535").default(3000),
  /** Address the HTTP server binds to. */
  HOST: z
    .string()
    .refine((value) => isIP(value) !== 0 || HOSTNAME.test(value), "must be an IP address or a host name, such as 127.0.0.1 or 0.0.0.0")
    .default("127.0.0.1"),
  /** Public base URL of the broker; the `iss` of every token. No trailing slash, query or fragment. Unset: `http://localhost:<PORT>`. */
  BROKER_ISSUER: url(["http:", "https:"])
    .refine((value) => {
      const u = new URL(value);
      // An empty "?" or "#" leaves u.search/u.hash empty, so look at the text too.
      return !u.search && !u.hash && !/[?#]/.test(value) && !value.endsWith("/");
    }, "must have no trailing slash, query or fragment")
    .optional(),
  /** Keyring for data at rest: comma-separated `kid:base64(32 bytes)`; the first is current. */
  BROKER_ENCRYPTION_KEYS: z
    .string({ error: "is not set: run `npx authbroker init` to generate a development key into .env, or set it (kid:base64 of 32 random bytes)" })
    .min(1, "is empty: run `npx authbroker init` or set kid:base64 of 32 random bytes")
    .transform(parseEncryptionKeys),
  /** Directory of connector files (*.yaml, *.yml, *.json). */
  CONNECTORS_DIR: z.string().min(1, "must not be empty").default("./connectors"),
  /** CIDRs that per-server hostnames and connector URLs may resolve to despite being private. */
  BROKER_ALLOW_PRIVATE_HOSTS: z
    .string()
    .default("")
    .transform((raw, ctx) => {
      const blocks: Cidr[] = [];
      for (const text of raw
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)) {
        const cidr = parseCidr(text);
        if (!cidr) {
          ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is not a CIDR such as 127.0.0.0/8` });
          return z.NEVER;
        }
        blocks.push(cidr);
      }
      return new CidrList(blocks);
    }),
  /**
   * A PEM file of certificate authorities the broker trusts for its outbound TLS, beside Node's
   * built-in roots (a self-hosted upstream or a client metadata document served under a private CA).
   */
  BROKER_OUTBOUND_CA_FILE: z
    .string()
    .optional()
    .transform((path, ctx) => {
      if (path === undefined || path === "") return undefined;
      let pem: string;
      try {
        pem = readFileSync(path, "utf8");
      } catch (err) {
        ctx.addIssue({ code: "custom", message: `cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"}): ${path}` });
        return z.NEVER;
      }
      if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
        ctx.addIssue({ code: "custom", message: `holds no PEM certificate: ${path}` });
        return z.NEVER;
      }
      return pem;
    }),
  /** pino log level. */
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
  /** Admin API bearer token; unset disables token auth for the admin API. */
  BROKER_ADMIN_TOKEN: z.string().min(32, "must be at least 32 characters").optional(),
  /** Milliseconds to wait for in-flight requests at shutdown before closing anyway. */
  SHUTDOWN_GRACE_MS: integer(0, 600_000, "must be 0-600000").default(10_000),
  /** Prefix of the broker's BullMQ queues in Redis; brokers sharing a Redis with different prefixes do not see each other's jobs. */
  BROKER_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1-64 of A-Z a-z 0-9 _ -")
    .default("authbroker"),
  /** Refresh jobs one worker process runs at once. */
  WORKER_CONCURRENCY: integer(1, 1000, "must be 1-1000").default(8),
  /** Upstream refresh calls per second per connector, across all workers (a herd of expiring accounts cannot flood an upstream). */
  REFRESH_RATE_PER_CONNECTOR: integer(1, 100_000, "must be 1-100000").default(20),
  /**
   * How long one holder may keep an account's refresh lock (ms). A process
   * that dies mid-refresh blocks the account's refresh this long; it must be
   * longer than the slowest upstream refresh, or a second caller could present
   * the same rotating refresh token.
   */
  REFRESH_LOCK_TTL_MS: integer(1_000, 600_000, "must be 1000-600000").default(45_000),
  /** BullMQ job lock of the refresh worker (ms): a job of a worker that died goes back to the queue after about twice this. */
  WORKER_JOB_LOCK_MS: integer(1_000, 600_000, "must be 1000-600000").default(30_000),
  /** Attempts of one webhook delivery before it is logged `failed` (redeliver it with `authbroker webhooks redeliver`). */
  WEBHOOK_MAX_ATTEMPTS: integer(1, 50, "must be 1-50").default(10),
  /** Delay before a webhook delivery's first retry (ms); each next retry waits twice as long. */
  WEBHOOK_RETRY_DELAY_MS: integer(100, 3_600_000, "must be 100-3600000").default(5_000),
  /** Length of the rate-limit window in seconds (the limits below count requests per window). */
  RATE_LIMIT_WINDOW_SECONDS: integer(1, 3_600, "must be 1-3600").default(60),
  /** Requests per window from one IP address (IPv6: one /64) to each of the token, authorize, device and connect endpoints; 0 turns the limit off. */
  RATE_LIMIT_PER_IP: integer(0, 1_000_000_000, "must be 0-1000000000").default(1_200),
  /** Requests per window naming one client_id at the token, device authorization and authorize endpoints; 0 turns the limit off. */
  RATE_LIMIT_PER_CLIENT: integer(0, 1_000_000_000, "must be 0-1000000000").default(1_200),
  /**
   * The longest a proxied call waits for a free slot of its connector's
   * declared upstream rate limits (ms), when the app allows it with
   * `Prefer: wait=<seconds>`; a longer wait is answered 429 with Retry-After.
   * 0: never wait.
   */
  PROXY_RATE_LIMIT_MAX_WAIT_MS: integer(0, 60_000, "must be 0-60000").default(5_000),
  /** Reverse proxies in front of the broker whose X-Forwarded-For entries are believed (src/http/client-address.ts); 0 ignores the header. */
  TRUST_PROXY_HOPS: integer(0, 10, "must be 0-10").default(0),
  /**
   * The longest any access token lives (seconds), whatever its app was
   * registered with: a stolen bearer token is only as bad as its lifetime
   * (RFC 9700 §4.10). Registration refuses longer; apps stored with longer
   * lifetimes are cut to this at issue.
   */
  ACCESS_TOKEN_MAX_TTL_SECONDS: integer(60, 31_536_000, "must be 60-31536000").default(86_400),
  /** The longest any refresh token lives (seconds); registration refuses longer, and stored apps are cut to it at issue. */
  REFRESH_TOKEN_MAX_TTL_SECONDS: integer(60, 31_536_000, "must be 60-31536000").default(7_776_000),
  /**
   * RFC 7591 dynamic client registration at POST /oauth/register: `off` (the
   * endpoint answers 404 and discovery does not list it), `token` (an initial
   * access token the operator made with `authbroker registration-tokens create`),
   * or `open` (anyone may register; rate limited per address).
   */
  BROKER_DYNAMIC_REGISTRATION: z.enum(DYNAMIC_REGISTRATION_MODES, { error: `must be one of ${DYNAMIC_REGISTRATION_MODES.join(", ")}` }).default("off"),
  /** Seconds after which a dynamically registered app that never got an account or a grant is deleted by the worker. */
  BROKER_DYNAMIC_REGISTRATION_REAP_AFTER: integer(3_600, 31_536_000, "must be 3600-31536000 seconds").default(2_592_000),
});

export type Env = z.input<typeof envSchema>;

export interface Config {
  databaseUrl: string;
  redisUrl: string;
  port: number;
  host: string;
  issuer: string;
  encryptionKeys: EncryptionKeySpec[];
  connectorsDir: string;
  allowPrivateHosts: CidrList;
  /** Extra certificate authorities (PEM) for outbound TLS, from BROKER_OUTBOUND_CA_FILE. */
  outboundCa: string | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  adminToken: string | undefined;
  shutdownGraceMs: number;
  queuePrefix: string;
  workerConcurrency: number;
  refreshRatePerConnector: number;
  refreshLockTtlMs: number;
  workerJobLockMs: number;
  webhookRetry: { attempts: number; delayMs: number };
  rateLimit: RateLimitConfig;
  proxyRateLimitMaxWaitMs: number;
  trustProxyHops: number;
  tokenLifetimeLimits: TokenLifetimeLimits;
  dynamicRegistration: { mode: DynamicRegistrationMode; reapAfterSeconds: number };
}

/** Upper bounds of token lifetimes, in seconds, for every app (src/apps/clients.ts refuses more; src/oauth/tokens.ts cuts to them). */
export interface TokenLifetimeLimits {
  accessTokenMaxTtl: number;
  refreshTokenMaxTtl: number;
}

/** Request rate limits of the front-door endpoints (src/http/rate-limit.ts). A limit of 0 is off. */
export interface RateLimitConfig {
  windowSeconds: number;
  perIp: number;
  perClient: number;
}

/** The documented variables, for the table check of docs/operations.md. */
export const ENV_VARS = Object.keys(envSchema.shape) as (keyof typeof envSchema.shape)[];

/**
 * Parse the environment. Throws `ConfigError` for the first bad variable.
 * Empty strings count as unset, as in most dotenv tooling.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {};
  for (const name of ENV_VARS) {
    const value = env[name];
    if (value !== undefined && value !== "") input[name] = value;
  }
  const parsed = envSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? "environment");
    throw new ConfigError(variable, issue.message);
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    port: e.PORT,
    host: e.HOST,
    // Unset, the issuer is this process on the port it listens on: a newcomer's PORT=4000 just works.
    issuer: e.BROKER_ISSUER ?? `http://localhost:${e.PORT}`,
    encryptionKeys: e.BROKER_ENCRYPTION_KEYS,
    connectorsDir: e.CONNECTORS_DIR,
    allowPrivateHosts: e.BROKER_ALLOW_PRIVATE_HOSTS,
    outboundCa: e.BROKER_OUTBOUND_CA_FILE,
    logLevel: e.LOG_LEVEL,
    adminToken: e.BROKER_ADMIN_TOKEN,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    queuePrefix: e.BROKER_QUEUE_PREFIX,
    workerConcurrency: e.WORKER_CONCURRENCY,
    refreshRatePerConnector: e.REFRESH_RATE_PER_CONNECTOR,
    refreshLockTtlMs: e.REFRESH_LOCK_TTL_MS,
    workerJobLockMs: e.WORKER_JOB_LOCK_MS,
    webhookRetry: { attempts: e.WEBHOOK_MAX_ATTEMPTS, delayMs: e.WEBHOOK_RETRY_DELAY_MS },
    rateLimit: { windowSeconds: e.RATE_LIMIT_WINDOW_SECONDS, perIp: e.RATE_LIMIT_PER_IP, perClient: e.RATE_LIMIT_PER_CLIENT },
    proxyRateLimitMaxWaitMs: e.PROXY_RATE_LIMIT_MAX_WAIT_MS,
    trustProxyHops: e.TRUST_PROXY_HOPS,
    tokenLifetimeLimits: { accessTokenMaxTtl: e.ACCESS_TOKEN_MAX_TTL_SECONDS, refreshTokenMaxTtl: e.REFRESH_TOKEN_MAX_TTL_SECONDS },
    dynamicRegistration: { mode: e.BROKER_DYNAMIC_REGISTRATION, reapAfterSeconds: e.BROKER_DYNAMIC_REGISTRATION_REAP_AFTER },
  };
}

/** Host names that mean "this machine": an issuer there is this process itself, not a proxy in front of it. */
const LOOPBACK_HOST = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Why the issuer probably names no port this broker listens on, or undefined:
 * an issuer on this machine (localhost, 127.x, ::1) whose port is not `PORT`.
 * Tokens would name an `iss` and endpoints nobody answers on. An issuer on
 * any other host is a reverse proxy's address, whose port may differ freely;
 * `PORT=0` (a free port, picked at listen) cannot be compared.
 */
export function issuerPortMismatch(config: Pick<Config, "issuer" | "port">): string | undefined {
  const issuer = new URL(config.issuer);
  if (!LOOPBACK_HOST.test(issuer.hostname) || config.port === 0) return undefined;
  const issuerPort = Number(issuer.port || (issuer.protocol === "https:" ? 443 : 80));
  if (issuerPort === config.port) return undefined;
  return `BROKER_ISSUER (${config.issuer}) names port ${issuerPort} on this machine, but the broker listens on PORT ${config.port}: set one to match the other, or unset BROKER_ISSUER to follow PORT`;
}
