/**
 * `whenReady` (src/redis.ts): what a short-lived process (a CLI verb) waits
 * on before its first Redis command, since with the offline queue off a
 * command sent while connecting fails at once.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRedis, whenReady } from "../../../src/redis.js";
import { TEST_REDIS_URL } from "../../support/services.js";

describe("whenReady", () => {
  it("resolves once a new connection is ready, after which a command succeeds", async () => {
    const redis = createRedis(TEST_REDIS_URL);
    try {
      await whenReady(redis, 5_000);
      assert.equal(redis.status, "ready");
      assert.equal(await redis.ping(), "PONG");
      await whenReady(redis, 1); // already ready: at once
    } finally {
      redis.disconnect();
    }
  });

  it("rejects with one clear line when Redis does not become ready in time", async () => {
    const redis = createRedis("redis://127.0.0.1:1", { retryStrategy: () => 50 });
    redis.on("error", () => undefined);
    try {
      const started = Date.now();
      await assert.rejects(whenReady(redis, 300), /^Error: Redis was not ready within 300 ms$/);
      assert.ok(Date.now() - started < 2_000);
    } finally {
      redis.disconnect();
    }
  });
});
