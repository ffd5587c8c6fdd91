/**
 * Request rate limits of the broker's front doors: the token, authorize and
 * device endpoints and the connect pages. Each request is counted per
 * address (an IPv6 address counts as its /64: one host gets a whole /64) and,
 * where the request names a client, per client_id, with one Redis round trip
 * (a Lua script that checks every counter and increments them all, or none).
 * Over a limit the answer is `429` with `Retry-After`: RFC 6749 §5.2-shaped
 * JSON (`{"error":"rate_limited",…}`) on the back-channel endpoints, an error
 * page on the browser ones.
 *
 * Counters are sliding windows (the previous window's count weighted by how
 * much of it still overlaps, as Cloudflare's), so a client cannot double its
 * rate by straddling a window boundary. Refused requests are not counted: a
 * client that waits `Retry-After` gets through.
 *
 * Trade-offs, taken on purpose:
 * - The client_id is the one the request claims, read before authentication
 *   (from Basic, `client_id` or the client assertion's `sub`, never
 *   verified): the limit bounds a runaway app cheaply, but someone who knows a
 *   client_id can spend that client's budget. The per-address limit is what
 *   bounds an attacker.
 * - Without trusted proxy headers (`trust proxy` is off) every request through
 *   a reverse proxy has the proxy's address: the per-address limit is then
 *   per proxy. Size `RATE_LIMIT_PER_IP` for that, or turn it off (0).
 * - When Redis is unreachable or slow the limiter lets requests through
 *   (fail open, logged once per outage): refusing all traffic because the
 *   limiter cannot count would turn a Redis outage into a full one. The
 *   endpoints that need Redis for themselves still answer 503.
 */
import { Router, type NextFunction, type Request, type RequestHandler, type Response } from "express";
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { decodeJwt } from "jose";
import { addressToBigInt, type RateLimitConfig } from "../config.js";
import { TooManyRequests } from "../errors.js";
import type { Logger } from "../log.js";
import type { Redis } from "../redis.js";
import type { Services } from "../services.js";
import { readForm } from "../oauth/body.js";
import { parseBasicCredentials } from "../oauth/client-auth.js";
import { DEVICE_AUTHORIZATION_PATH, DEVICE_PAGE_PATH } from "../oauth/device.js";
import { TOKEN_PATH } from "../oauth/token.js";
import { sendErrorPage } from "./html.js";

/** One rate-limited endpoint (or group of paths under one prefix). */
export interface RateLimitedEndpoint {
  /** Its name in the Redis keys: each endpoint has counters of its own. */
  name: string;
  /** Express mount path: the path itself and everything under it. */
  path: string;
  /** How a refusal reaches the caller: JSON for programs, a page for browsers. */
  answer: "json" | "page";
  /** Browser apps call it from scripts (CORS): they must be able to read the 429 and its Retry-After. */
  cors?: boolean;
  /** The client_id the request claims, for endpoints that have one. */
  claimedClientId?: (req: Request) => Promise<string | undefined> | string | undefined;
}

/** The client a back-channel request claims to be: Basic, then `client_id`, then the assertion's `sub` (RFC 7523 §3). */
async function clientOfBackChannelRequest(req: Request): Promise<string | undefined> {
  const authorization = req.headers.authorization;
  if (authorization !== undefined && /^basic /i.test(authorization)) {
    try {
      return parseBasicCredentials(authorization).clientId;
    } catch {
      return undefined;
    }
  }
  // The endpoint reads the same form afterwards (readForm reads once) and reports its errors itself.
  const form = await readForm(req).catch(() => undefined);
  const clientId = form?.get("client_id");
  if (clientId !== undefined) return clientId;
  const assertion = form?.get("client_assertion");
  if (assertion === undefined) return undefined;
  try {
    const { sub } = decodeJwt(assertion);
    return typeof sub === "string" ? sub : undefined;
  } catch {
    return undefined;
  }
}

function clientOfQuery(req: Request): string | undefined {
  const clientId = req.query.client_id;
  return typeof clientId === "string" ? clientId : undefined;
}

/**
 * The endpoints limited, in one table. `POST /oauth/authorize` carries its
 * client_id in a body the endpoint parses later, so it is limited per
 * address only.
 */
export const RATE_LIMITED_ENDPOINTS: readonly RateLimitedEndpoint[] = [
  { name: "token", path: TOKEN_PATH, answer: "json", cors: true, claimedClientId: clientOfBackChannelRequest },
  { name: "device_authorization", path: DEVICE_AUTHORIZATION_PATH, answer: "json", claimedClientId: clientOfBackChannelRequest },
  { name: "authorize", path: "/oauth/authorize", answer: "page", claimedClientId: clientOfQuery },
  { name: "device", path: DEVICE_PAGE_PATH, answer: "page" },
  { name: "connect", path: "/connect", answer: "page" },
];

/** The counter an address falls in: IPv4 as is, IPv4-mapped IPv6 as IPv4, other IPv6 by its /64. */
export function addressBucket(address: string | undefined): string {
  if (!address) return "unknown";
  const unmapped = address.toLowerCase().startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  if (isIP(unmapped) !== 6) return unmapped;
  return `${(addressToBigInt(unmapped, 6) >> 64n).toString(16)}::/64`;
}

/** A client_id as a key part: the client's free text until verified, so anything unusual is hashed. */
function clientBucket(clientId: string): string {
  return /^[A-Za-z0-9._~-]{1,128}$/.test(clientId) ? clientId : `h-${createHash("sha256").update(clientId).digest("base64url").slice(0, 32)}`;
}

/**
 * KEYS: for each counter, its current window's key then the previous one's.
 * ARGV: the previous window's weight (0..1), the keys' time to live (ms),
 * then each counter's limit. Answers {0} and counts the request on every
 * counter, or answers {i, current, previous} for the first counter i that
 * is full and counts nothing.
 */
const TAKE_SCRIPT = `
local weight = tonumber(ARGV[1])
local n = #KEYS / 2
for i = 1, n do
  local current = tonumber(redis.call("GET", KEYS[2 * i - 1]) or "0")
  local previous = tonumber(redis.call("GET", KEYS[2 * i]) or "0")
  if previous * weight + current + 1 > tonumber(ARGV[2 + i]) then
    return {i, current, previous}
  end
end
for i = 1, n do
  if redis.call("INCR", KEYS[2 * i - 1]) == 1 then redis.call("PEXPIRE", KEYS[2 * i - 1], ARGV[2]) end
end
return {0}
`;

/** Longest the limiter waits for Redis before letting a request through. */
const REDIS_TIMEOUT_MS = 250;

export interface RateCounter {
  /** Redis key of the counter, without the window. */
  key: string;
  limit: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number; counter: RateCounter };

type RedisWithTake = Redis & { authbrokerRateLimitTake(...args: (string | number)[]): Promise<number[]> };

/** Sliding-window counters in Redis, shared by every broker process that uses the same Redis and key prefix. */
export class RateLimiter {
  private readonly redis: RedisWithTake;
  private readonly windowMs: number;
  private outage = false;

  constructor(
    redis: Redis,
    windowSeconds: number,
    private readonly log: Logger,
  ) {
    if (!("authbrokerRateLimitTake" in redis)) redis.defineCommand("authbrokerRateLimitTake", { lua: TAKE_SCRIPT });
    this.redis = redis as RedisWithTake;
    this.windowMs = windowSeconds * 1000;
  }

  /** Counts one request on every counter, or refuses it with the wait until the first full counter has room. */
  async take(counters: readonly RateCounter[], now = Date.now()): Promise<RateDecision> {
    if (counters.length === 0) return { allowed: true };
    const window = Math.floor(now / this.windowMs);
    const elapsedMs = now - window * this.windowMs;
    const keys = counters.flatMap((c) => [`${c.key}:${window}`, `${c.key}:${window - 1}`]);
    const weight = 1 - elapsedMs / this.windowMs;
    let answer: number[];
    try {
      if (this.redis.status !== "ready") throw new Error(`redis is ${this.redis.status}`);
      answer = await withTimeout(this.redis.authbrokerRateLimitTake(keys.length, ...keys, weight, 2 * this.windowMs, ...counters.map((c) => c.limit)), REDIS_TIMEOUT_MS);
    } catch (err) {
      if (!this.outage) this.log.warn({ err: { message: (err as Error).message } }, "rate limiting is off while Redis is unreachable: requests pass uncounted");
      this.outage = true;
      return { allowed: true };
    }
    if (this.outage) this.log.info("rate limiting counts again");
    this.outage = false;
    const [index = 0, current = 0, previous = 0] = answer;
    if (index === 0) return { allowed: true };
    const counter = counters[index - 1]!;
    return { allowed: false, counter, retryAfterSeconds: Math.max(1, Math.ceil(this.waitMs(counter.limit, current, previous, elapsedMs) / 1000)) };
  }

  /**
   * How long until `previous·(1 − t/W) + current + 1 ≤ limit`. Within this
   * window only the previous window's share can shrink; if the current
   * window alone is full, the wait runs into the next window, where the
   * current count becomes the shrinking share.
   */
  private waitMs(limit: number, current: number, previous: number, elapsedMs: number): number {
    const W = this.windowMs;
    if (current + 1 <= limit && previous > 0) {
      // t ≥ W·(1 − (limit − current − 1)/previous)
      return Math.max(0, W * (1 - (limit - current - 1) / previous) - elapsedMs);
    }
    const intoNext = current > 0 ? Math.max(0, W * (1 - (limit - 1) / current)) : 0;
    return W - elapsedMs + intoNext;
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    work.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (err: unknown) => (clearTimeout(timer), reject(err)),
    );
  });
}

function refuse(endpoint: RateLimitedEndpoint, res: Response, next: NextFunction, retryAfterSeconds: number): void {
  const retryAfter = String(retryAfterSeconds);
  if (endpoint.answer === "page") {
    res.setHeader("Retry-After", retryAfter);
    sendErrorPage(res, 429, "rate_limited", `Too many requests from your network. Try again in ${retryAfterSeconds} seconds.`);
    return;
  }
  if (endpoint.cors) {
    res.setHeader("Access-Control-Allow-Origin", "*");
    res.setHeader("Access-Control-Expose-Headers", "Retry-After");
  }
  next(new TooManyRequests(`too many requests; try again in ${retryAfterSeconds} seconds`, { headers: { "Retry-After": retryAfter } }));
}

/** The middleware of one endpoint. */
export function limitRequests(limiter: RateLimiter, endpoint: RateLimitedEndpoint, limits: RateLimitConfig, keyPrefix: string): RequestHandler {
  const base = `${keyPrefix}:ratelimit:${endpoint.name}`;
  return async (req, res, next) => {
    // CORS preflights do no work and carry no credentials.
    if (req.method === "OPTIONS") return next();
    const counters: RateCounter[] = [];
    if (limits.perIp > 0) counters.push({ key: `${base}:ip:${addressBucket(req.socket.remoteAddress)}`, limit: limits.perIp });
    if (limits.perClient > 0 && endpoint.claimedClientId) {
      const clientId = await endpoint.claimedClientId(req);
      if (clientId) counters.push({ key: `${base}:client:${clientBucket(clientId)}`, limit: limits.perClient });
    }
    const decision = await limiter.take(counters);
    if (decision.allowed) return next();
    req.log?.info({ rateLimit: { endpoint: endpoint.name, counter: decision.counter.key.slice(base.length + 1).split(":")[0] } }, "rate limited");
    refuse(endpoint, res, next, decision.retryAfterSeconds);
  };
}

/** Mounted before the endpoints' own routers (src/main.ts). Keys carry BROKER_QUEUE_PREFIX: brokers sharing a Redis count apart. */
export function rateLimitRouter(services: Pick<Services, "config" | "redis" | "log">): Router {
  const router = Router();
  const limits = services.config.rateLimit;
  if (limits.perIp === 0 && limits.perClient === 0) return router;
  const limiter = new RateLimiter(services.redis, limits.windowSeconds, services.log);
  for (const endpoint of RATE_LIMITED_ENDPOINTS) router.use(endpoint.path, limitRequests(limiter, endpoint, limits, services.config.queuePrefix));
  return router;
}
