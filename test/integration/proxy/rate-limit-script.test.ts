/**
 * The proxy's outbound rate limiter (src/proxy/rate-limit.ts) against a
 * real Redis: slots taken, refused with the wait until one frees, reserved
 * ahead within the wait a call allows, per account apart from per
 * connector, the upstream's holds (never shortened), the counting exact
 * whatever the order of reservations, and calls let through while Redis
 * is unreachable.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { pino } from "pino";
import { createRedis, whenReady, type Redis } from "../../../src/redis.js";
import { OutboundRateLimiter, rateRules, slotHoldMs, type DeclaredRateLimit } from "../../../src/proxy/rate-limit.js";
import { LogCapture, TEST_REDIS_URL } from "../../support/services.js";
import { startRedisServer } from "../../support/redis-server.js";

describe("the outbound rate limiter's script", () => {
  let redis: Redis;
  let limiter: OutboundRateLimiter;
  const prefix = `test_${randomBytes(4).toString("hex")}`;
  let connector = 0;
  /** Rules for a connector of its own, so each test counts from zero. */
  const rules = (limits: DeclaredRateLimit[]) => rateRules(prefix, `c${++connector}`, limits)!;

  before(async () => {
    redis = createRedis(TEST_REDIS_URL);
    await whenReady(redis, 5_000);
    limiter = new OutboundRateLimiter(redis, pino({ level: "silent" }));
  });

  after(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it("takes the limit's slots, then refuses with the wait until the first frees, taking nothing", async () => {
    const r = rules([{ per: "connector", requests: 3, intervalSeconds: 2 }]);
    for (let i = 0; i < 3; i++) assert.deepEqual(await limiter.take(r, "acc", 0), { go: true, waitMs: 0 });
    const refused = await limiter.take(r, "acc", 0);
    assert.equal(refused.go, false);
    assert.ok(refused.waitMs > 0 && refused.waitMs <= slotHoldMs(2), `wait ${refused.waitMs}`);
    assert.equal(await redis.zcard(`${r.base}:2s`), 3, "a refused call takes no slot");
    assert.ok((await redis.pttl(`${r.base}:2s`)) <= slotHoldMs(2), "the log expires when its last slot does");
  });

  it("reserves the slot ahead when the call may wait that long, so later calls queue behind it", async () => {
    const r = rules([{ per: "connector", requests: 2, intervalSeconds: 1 }]);
    await limiter.take(r, "acc", 0);
    await limiter.take(r, "acc", 0);
    const third = await limiter.take(r, "acc", 5_000);
    assert.equal(third.go, true);
    assert.ok(third.waitMs > 900 && third.waitMs <= slotHoldMs(1), `wait ${third.waitMs}`);
    const fourth = await limiter.take(r, "acc", 5_000);
    assert.ok(fourth.go && Math.abs(fourth.waitMs - third.waitMs) < 100, "the second slot of that interval frees at the same time");
    const fifth = await limiter.take(r, "acc", 5_000);
    assert.ok(fifth.go && fifth.waitMs > 2 * 900, `the fifth waits two intervals (${fifth.waitMs} ms)`);
    const impatient = await limiter.take(r, "acc", 1_000);
    assert.equal(impatient.go, false, "a call that may not wait as long is refused");
  });

  it("counts per account apart, and per connector across accounts", async () => {
    const r = rules([
      { per: "account", requests: 1, intervalSeconds: 60 },
      { per: "connector", requests: 3, intervalSeconds: 60 },
    ]);
    assert.equal((await limiter.take(r, "a", 0)).go, true);
    assert.equal((await limiter.take(r, "a", 0)).go, false, "account a has used its one call");
    assert.equal((await limiter.take(r, "b", 0)).go, true, "account b has its own");
    assert.equal((await limiter.take(r, "c", 0)).go, true);
    assert.equal((await limiter.take(r, "d", 0)).go, false, "the connector's three calls are used");
  });

  it("holds calls off as the upstream asked, per account when a limit is, and never shortens a hold", async () => {
    const r = rules([{ per: "account", requests: 100, intervalSeconds: 60 }]);
    await limiter.hold(r, "a", 3_000);
    await limiter.hold(r, "a", 500);
    const held = await limiter.take(r, "a", 0);
    assert.equal(held.go, false);
    assert.ok(held.waitMs > 2_500 && held.waitMs <= 3_000, `the longer hold stays (${held.waitMs} ms)`);
    assert.equal((await limiter.take(r, "b", 0)).go, true, "another account is not held");
    const waited = await limiter.take(r, "a", 5_000);
    assert.ok(waited.go && waited.waitMs > 2_500, "a call that may wait is reserved after the hold");

    const perConnector = rules([{ per: "connector", requests: 100, intervalSeconds: 60 }]);
    await limiter.hold(perConnector, "a", 2_000);
    assert.equal((await limiter.take(perConnector, "b", 0)).go, false, "without a per-account limit the whole connector is held");
  });

  it("never puts more than the limit in any span of the slot's hold, whatever the order of reservations", async () => {
    const r = rules([{ per: "connector", requests: 4, intervalSeconds: 1 }]);
    const hold = slotHoldMs(1);
    // Calls allowing random waits, many refused, some reserved far ahead, some filling gaps now.
    const decisions = await Promise.all(Array.from({ length: 60 }, (_, i) => limiter.take(r, "acc", [0, 500, 1_500, 4_000][i % 4]!)));
    assert.ok(decisions.some((d) => d.go && d.waitMs > 0) && decisions.some((d) => !d.go), "some waited, some were refused");
    const entries = await redis.zrange(`${r.base}:1s`, 0, -1, "WITHSCORES");
    const times = entries.filter((_, i) => i % 2 === 1).map(Number);
    assert.equal(times.length, decisions.filter((d) => d.go).length, "one entry per call let through");
    for (let i = 0; i + 4 < times.length; i++) assert.ok(times[i + 4]! - times[i]! >= hold, `five calls within ${hold} ms at ${i}`);
  });
});

describe("the outbound rate limiter while Redis is unreachable", () => {
  it("lets calls through uncounted, records no hold, throws nothing, and logs the outage once", async () => {
    const server = await startRedisServer();
    const redis = createRedis(server.url);
    await whenReady(redis, 5_000);
    const logs = new LogCapture();
    const limiter = new OutboundRateLimiter(redis, pino({ level: "info" }, logs));
    const r = rateRules("down", "c", [{ per: "connector", requests: 1, intervalSeconds: 60 }])!;
    try {
      await server.stop();
      assert.deepEqual(await limiter.take(r, "a", 0), { go: true, waitMs: 0 });
      assert.deepEqual(await limiter.take(r, "a", 0), { go: true, waitMs: 0 }, "the limit of one is not counted");
      await limiter.hold(r, "a", 1_000);
      assert.equal(logs.lines.filter((l) => /rate limits are off/.test(String(l.msg))).length, 1);
    } finally {
      redis.disconnect();
      await server.stop().catch(() => undefined);
    }
  });
});
