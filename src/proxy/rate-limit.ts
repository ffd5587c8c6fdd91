/**
 * Outbound rate control of the proxy (docs/proxy.md, "Upstream rate
 * limits"): the limits a connector file declares (`api.rateLimits`), held
 * across every broker process through Redis, and the holds the upstream's
 * own answers ask for (rate-headers.ts).
 *
 * Each declared limit is a log of the calls' times in a sorted set
 * (`${prefix}:ratelimit:proxy:<connector>[:<account>]:<interval>s`), and a
 * call takes a slot in every log of its connector with one atomic script:
 * one Redis round trip per call, and none for a connector that declares no
 * limit. A log, rather than the inbound limiter's weighted windows
 * (src/http/rate-limit.ts) or a GCRA: both of those let up to twice the
 * limit through in some window of the interval's length, and a declared
 * limit is the upstream's, which answers 429 past it. A log costs one entry
 * per call of the interval (at most `requests`, bounded by the schema).
 *
 * A call that finds no free slot is given the earliest time one frees up.
 * When the app may wait that long (`Prefer: wait`, bounded by
 * PROXY_RATE_LIMIT_MAX_WAIT_MS) the script takes the slot at that future
 * time at once, so the call only sleeps and sends, without a second round
 * trip and without a herd of waiters racing for the slot when it frees.
 * Otherwise nothing is taken and the app gets 429 with Retry-After.
 *
 * A slot is held for the interval plus a tenth of it (at most a second):
 * calls admitted an interval apart may reach the upstream less far apart
 * than that (timers fire late, connections differ), and the upstream counts
 * arrivals.
 *
 * Like the inbound limiter, this one fails open: when Redis does not answer
 * within 250 ms the call goes through uncounted (logged once per outage).
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "../log.js";
import type { Redis } from "../redis.js";
import { withTimeout } from "../http/timeout.js";

/** One declared limit of a connector file, as the schema gives it. */
export interface DeclaredRateLimit {
  per: "connector" | "account";
  requests: number;
  intervalSeconds: number;
}

/** A connector's limits in the form the script takes, made once per connector configuration (connector-plan.ts). */
export interface RateRules {
  /** `${prefix}:ratelimit:proxy:<connector>`. */
  base: string;
  /** Whether some limit is per account: then the upstream's holds are per account too (GitHub's limits are per user). */
  perAccount: boolean;
  limits: { per: "connector" | "account"; requests: number; holdMs: number; suffix: string }[];
}

export function rateRules(prefix: string, connectorId: string, declared: readonly DeclaredRateLimit[]): RateRules | undefined {
  if (declared.length === 0) return undefined;
  return {
    base: `${prefix}:ratelimit:proxy:${connectorId}`,
    perAccount: declared.some((limit) => limit.per === "account"),
    limits: declared.map((limit) => ({
      per: limit.per,
      requests: limit.requests,
      holdMs: slotHoldMs(limit.intervalSeconds),
      suffix: `:${limit.intervalSeconds}s`,
    })),
  };
}

/** How long a slot stays taken: the interval plus a tenth of it, at most a second more (see the file's comment). */
export function slotHoldMs(intervalSeconds: number): number {
  return intervalSeconds * 1000 + Math.min(1000, intervalSeconds * 100);
}

/** The key of the upstream's hold for a call: per account when a limit is per account, else the connector's. */
function holdKey(rules: RateRules, accountId: string): string {
  return rules.perAccount ? `${rules.base}:${accountId}:hold` : `${rules.base}:hold`;
}

/**
 * KEYS[1]: the hold key (a time in ms until which no call goes out); then
 * one log per limit. ARGV: the longest wait the call accepts (ms), the
 * call's unique member, then each limit's requests and slot hold (ms).
 * Times are Redis's clock (TIME), the one every process shares.
 *
 * A call may go at the first time t ≥ now, ≥ the hold, and, for each log,
 * ≥ its `requests`-th latest entry + the slot hold: then no window of the
 * hold's length has more than `requests` entries, whatever the order in
 * which reservations were made. Returns {1, wait} with the slot taken at
 * now + wait, or {0, wait} with nothing taken when wait exceeds the bound.
 */
const TAKE_SCRIPT = `
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local maxWait = tonumber(ARGV[1])
local at = now
local hold = tonumber(redis.call("GET", KEYS[1]) or "0") or 0
if hold > at then at = hold end
for i = 2, #KEYS do
  local requests = tonumber(ARGV[2 * i - 1])
  local holdMs = tonumber(ARGV[2 * i])
  redis.call("ZREMRANGEBYSCORE", KEYS[i], "-inf", now - holdMs)
  if redis.call("ZCARD", KEYS[i]) >= requests then
    local entry = redis.call("ZRANGE", KEYS[i], -requests, -requests, "WITHSCORES")
    local free = tonumber(entry[2]) + holdMs
    if free > at then at = free end
  end
end
local wait = at - now
if wait > maxWait then return {0, wait} end
for i = 2, #KEYS do
  local holdMs = tonumber(ARGV[2 * i])
  redis.call("ZADD", KEYS[i], at, ARGV[2])
  local last = redis.call("ZRANGE", KEYS[i], -1, -1, "WITHSCORES")
  redis.call("PEXPIRE", KEYS[i], tonumber(last[2]) - now + holdMs)
end
return {1, wait}
`;

/** KEYS[1]: a hold key. ARGV[1]: the hold (ms from Redis's now); a longer hold already there stays. */
const HOLD_SCRIPT = `
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local holdMs = tonumber(ARGV[1])
local current = tonumber(redis.call("GET", KEYS[1]) or "0") or 0
if now + holdMs > current then redis.call("SET", KEYS[1], now + holdMs, "PX", holdMs) end
return 1
`;

/** Longest the proxy waits for Redis before letting a call through uncounted. */
const REDIS_TIMEOUT_MS = 250;

export type SlotDecision = { go: true; waitMs: number } | { go: false; waitMs: number };

type RedisWithScripts = Redis & {
  authbrokerProxySlot(...args: (string | number)[]): Promise<[number, number]>;
  authbrokerProxyHold(...args: (string | number)[]): Promise<number>;
};

export class OutboundRateLimiter {
  private readonly redis: RedisWithScripts;
  private outage = false;
  /** Members must be unique in each log: this process's random prefix and a counter. */
  private readonly memberPrefix = randomBytes(6).toString("base64url");
  private sequence = 0;

  constructor(
    redis: Redis,
    private readonly log: Logger,
  ) {
    if (!("authbrokerProxySlot" in redis)) {
      redis.defineCommand("authbrokerProxySlot", { lua: TAKE_SCRIPT });
      redis.defineCommand("authbrokerProxyHold", { lua: HOLD_SCRIPT });
    }
    this.redis = redis as RedisWithScripts;
  }

  /** Takes a slot in every log of the connector (and account) within `maxWaitMs`, or says how long until one frees. */
  async take(rules: RateRules, accountId: string, maxWaitMs: number): Promise<SlotDecision> {
    const keys = [holdKey(rules, accountId)];
    const args: (string | number)[] = [Math.max(0, Math.floor(maxWaitMs)), `${this.memberPrefix}.${(this.sequence = (this.sequence + 1) % 1e12)}`];
    for (const limit of rules.limits) {
      keys.push(limit.per === "account" ? `${rules.base}:${accountId}${limit.suffix}` : `${rules.base}${limit.suffix}`);
      args.push(limit.requests, limit.holdMs);
    }
    try {
      if (this.redis.status !== "ready") throw new Error(`redis is ${this.redis.status}`);
      const [taken, waitMs] = await withTimeout(this.redis.authbrokerProxySlot(keys.length, ...keys, ...args), REDIS_TIMEOUT_MS);
      this.recovered();
      return { go: taken === 1, waitMs: Math.max(0, Number(waitMs)) };
    } catch (err) {
      this.failed(err);
      return { go: true, waitMs: 0 };
    }
  }

  /** Records the upstream's request for no calls during `holdMs`, for every process; never throws. */
  async hold(rules: RateRules, accountId: string, holdMs: number): Promise<void> {
    try {
      if (this.redis.status !== "ready") throw new Error(`redis is ${this.redis.status}`);
      await withTimeout(this.redis.authbrokerProxyHold(1, holdKey(rules, accountId), Math.ceil(holdMs)), REDIS_TIMEOUT_MS);
      this.recovered();
    } catch (err) {
      this.failed(err);
    }
  }

  private failed(err: unknown): void {
    if (!this.outage)
      this.log.warn({ err: { message: (err as Error).message } }, "upstream rate limits are off while Redis is unreachable: proxied calls pass uncounted");
    this.outage = true;
  }

  private recovered(): void {
    if (this.outage) this.log.info("upstream rate limits count again");
    this.outage = false;
  }
}
