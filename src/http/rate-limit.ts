/**
 * Request rate limits of the broker's front doors (the token, authorize and
 * device endpoints and the connect pages: the route table, src/routes.ts,
 * gives each its class). Each request is counted per
 * address (an IPv6 address counts as its /64: one host gets a whole /64) and,
 * where the request names a client, per client_id, with one Redis round trip
 * (a Lua script that checks every counter and increments them all, or none).
 * Over a limit the answer is `429` with `Retry-After`, in the route's error
 * style: RFC 6749 §5.2-shaped JSON (`{"error":"rate_limited",…}`) on the
 * back-channel endpoints, an error page on the browser ones.
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
 * - The address is the socket's peer unless TRUST_PROXY_HOPS says how many
 *   reverse proxies' X-Forwarded-For entries to believe
 *   (src/http/client-address.ts). Left at 0 behind a proxy, every request has
 *   the proxy's address and the per-address limit is per proxy.
 * - When Redis is unreachable or slow the limiter lets requests through
 *   (fail open, logged once per outage): refusing all traffic because the
 *   limiter cannot count would turn a Redis outage into a full one. The
 *   endpoints that need Redis for themselves still answer 503.
 */
import type { IncomingMessage } from "node:http";
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import type { RateLimitConfig } from "../config.js";
import { TooManyRequests } from "../errors.js";
import type { Logger } from "../log.js";
import type { Redis } from "../redis.js";
import { clientAddress } from "./client-address.js";
import type { RateLimitClass } from "./route.js";
import { withTimeout } from "./timeout.js";

/** The configured limits, and how many proxies' X-Forwarded-For entries name a request's address. */
export interface RateLimitSettings extends RateLimitConfig {
  trustProxyHops: number;
}

/** The counter an address falls in: IPv4 as is, IPv4-mapped IPv6 as IPv4, other IPv6 by its /64. */
export function addressBucket(address: string | undefined): string {
  if (!address) return "unknown";
  if (isIP(address) === 0) return address;
  // ipaddr.process reads ::ffff:a.b.c.d and ::ffff:7f00:1 alike as the IPv4 address they name.
  const parsed = ipaddr.process(address);
  if (parsed.kind() === "ipv4") return parsed.toString();
  return `${parsed
    .toByteArray()
    .slice(0, 8)
    .map((byte) => byte.toString(16).padStart(2, "0"))
    .join("")}::/64`;
}

/** A client_id as a key part: the client's free text until verified, so anything unusual is hashed. */
function clientBucket(clientId: string): string {
  return /^[A-Za-z0-9._~-]{1,128}$/.test(clientId) ? clientId : `h-${createHash("sha256").update(clientId).digest("base64url").slice(0, 32)}`;
}

/**
 * Counts a batch of requests, in order, in one call. KEYS: for each request,
 * for each of its counters, the current window's key then the previous
 * one's. ARGV: the previous window's weight (0..1), the keys' time to live
 * (ms), the number of requests, then for each request its number of
 * counters and their limits. For each request the answer has three numbers:
 * 0 0 0 when it was counted on every counter, or i, current, previous for
 * its first counter i that is full (and it is counted nowhere). A counter
 * two requests of the batch share sees the first one's count.
 */
const TAKE_SCRIPT = `
local weight = tonumber(ARGV[1])
local ttl = ARGV[2]
local a = 4
local k = 0
local out = {}
for r = 1, tonumber(ARGV[3]) do
  local n = tonumber(ARGV[a])
  local refused, current, previous = 0, 0, 0
  for i = 1, n do
    local c = tonumber(redis.call("GET", KEYS[k + 2 * i - 1]) or "0")
    local p = tonumber(redis.call("GET", KEYS[k + 2 * i]) or "0")
    if p * weight + c + 1 > tonumber(ARGV[a + i]) then
      refused, current, previous = i, c, p
      break
    end
  end
  if refused == 0 then
    for i = 1, n do
      if redis.call("INCR", KEYS[k + 2 * i - 1]) == 1 then redis.call("PEXPIRE", KEYS[k + 2 * i - 1], ttl) end
    end
  end
  out[#out + 1] = refused
  out[#out + 1] = current
  out[#out + 1] = previous
  a = a + n + 1
  k = k + 2 * n
end
return out
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

interface PendingTake {
  counters: readonly RateCounter[];
  resolve(decision: RateDecision): void;
}

/**
 * Sliding-window counters in Redis, shared by every broker process that
 * uses the same Redis and key prefix.
 *
 * The requests that reach the limiter in one turn of the event loop are
 * counted together, in arrival order, by one script call: under load that
 * is one Redis round trip for several requests instead of one each (the
 * round trip, its system calls and Redis's own work per call were the
 * largest cost of a client_credentials token, docs/benchmarks.md). Each
 * request is still counted exactly and atomically; it waits at most until
 * the end of the current turn.
 */
export class RateLimiter {
  private readonly redis: RedisWithTake;
  private readonly windowMs: number;
  private outage = false;
  private pending: PendingTake[] = [];

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
  take(counters: readonly RateCounter[]): Promise<RateDecision> {
    if (counters.length === 0) return Promise.resolve({ allowed: true });
    return new Promise((resolve) => {
      if (this.pending.length === 0) setImmediate(() => void this.flush());
      this.pending.push({ counters, resolve });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    const now = Date.now();
    const window = Math.floor(now / this.windowMs);
    const elapsedMs = now - window * this.windowMs;
    const weight = 1 - elapsedMs / this.windowMs;
    const keys: string[] = [];
    const shape: number[] = [];
    for (const { counters } of batch) {
      shape.push(counters.length);
      for (const c of counters) {
        keys.push(`${c.key}:${window}`, `${c.key}:${window - 1}`);
        shape.push(c.limit);
      }
    }
    let answer: number[];
    try {
      if (this.redis.status !== "ready") throw new Error(`redis is ${this.redis.status}`);
      answer = await withTimeout(this.redis.authbrokerRateLimitTake(keys.length, ...keys, weight, 2 * this.windowMs, batch.length, ...shape), REDIS_TIMEOUT_MS);
    } catch (err) {
      if (!this.outage) this.log.warn({ err: { message: (err as Error).message } }, "rate limiting is off while Redis is unreachable: requests pass uncounted");
      this.outage = true;
      for (const { resolve } of batch) resolve({ allowed: true });
      return;
    }
    if (this.outage) this.log.info("rate limiting counts again");
    this.outage = false;
    batch.forEach(({ counters, resolve }, r) => {
      const [index = 0, current = 0, previous = 0] = answer.slice(3 * r, 3 * r + 3);
      if (index === 0) return resolve({ allowed: true });
      const counter = counters[index - 1]!;
      resolve({ allowed: false, counter, retryAfterSeconds: Math.max(1, Math.ceil(this.waitMs(counter.limit, current, previous, elapsedMs) / 1000)) });
    });
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

/**
 * The limits of the broker's routes: each route of the table names its
 * class (src/routes.ts); requests of one class share its counters. Keys
 * carry BROKER_QUEUE_PREFIX: brokers sharing a Redis count apart.
 */
export class RateLimits {
  private readonly limiter: RateLimiter | undefined;

  constructor(
    redis: Redis,
    private readonly settings: RateLimitSettings,
    private readonly keyPrefix: string,
    log: Logger,
  ) {
    // Both limits at 0: nothing is counted, and Redis is never asked.
    this.limiter = settings.perIp > 0 || settings.perClient > 0 ? new RateLimiter(redis, settings.windowSeconds, log) : undefined;
  }

  /** Counts the request in its class; throws TooManyRequests (with Retry-After) when a counter is full. */
  async check(limitClass: RateLimitClass, req: IncomingMessage, log: () => Logger): Promise<void> {
    if (!this.limiter) return;
    const base = `${this.keyPrefix}:ratelimit:${limitClass.name}`;
    const decision = await this.limiter.take(await this.countersOf(limitClass, base, req));
    if (decision.allowed) return;
    log().info({ rateLimit: { endpoint: limitClass.name, counter: decision.counter.key.slice(base.length + 1).split(":")[0] } }, "rate limited");
    throw new TooManyRequests(`too many requests; try again in ${decision.retryAfterSeconds} seconds`, {
      headers: { "Retry-After": String(decision.retryAfterSeconds) },
    });
  }

  /** The counters a request falls in: its address, and the client it claims where the class reads one. */
  private async countersOf(limitClass: RateLimitClass, base: string, req: IncomingMessage): Promise<RateCounter[]> {
    const counters: RateCounter[] = [];
    const { perIp, perClient, trustProxyHops } = this.settings;
    if (perIp > 0) counters.push({ key: `${base}:ip:${addressBucket(clientAddress(req, trustProxyHops))}`, limit: perIp });
    if (perClient > 0 && limitClass.claimedClientId) {
      const clientId = await limitClass.claimedClientId(req);
      if (clientId) counters.push({ key: `${base}:client:${clientBucket(clientId)}`, limit: perClient });
    }
    return counters;
  }
}
