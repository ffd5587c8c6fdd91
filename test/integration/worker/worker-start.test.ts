/**
 * A worker's start when the services' Redis client is not ready yet. CI once
 * saw a worker process whose reconciler lock (a command on that client, which
 * has no offline queue) failed before the client's connection was ready: the
 * start threw after the BullMQ consumers were already taking jobs, the
 * services were closed under them, and the process ran on failing every job
 * with "Connection is closed." without ever saying it had started.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createTestServices, type TestServices } from "../../support/services.js";
import { createRedis } from "../../../src/redis.js";
import { startWorker } from "../../../src/worker/run.js";
import { freePort } from "../../support/ports.js";

describe("worker start", () => {
  const opened: TestServices[] = [];
  after(async () => {
    for (const services of opened) await services.teardown();
  });

  it("a reconciler pass that cannot reach Redis is logged, and the worker starts and stops cleanly", async () => {
    const services = await createTestServices();
    opened.push(services);
    // A client that is still connecting: commands fail at once (no offline queue).
    const connecting = createRedis(services.config.redisUrl, { lazyConnect: true });
    connecting.on("error", () => undefined);
    const ready = services.redis;
    services.redis = connecting;
    try {
      const worker = await startWorker(services);
      const failed = services.logs.lines.find((l) => l.msg === "reconciler pass failed");
      assert.ok(failed, "the failed pass is logged");
      assert.ok(services.logs.lines.some((l) => l.msg === "worker started"));
      await worker.close();
    } finally {
      services.redis = ready;
      connecting.disconnect();
    }
  });

  it("a start that waits for an unreachable Redis ends when its signal aborts, with the signal's reason", async () => {
    // BullMQ's consumers wait for Redis as long as it takes: without the
    // signal, a shutdown that came now would wait forever (CI saw it).
    const services = await createTestServices({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    opened.push(services);
    const aborter = new AbortController();
    const reason = new Error("start interrupted by SIGTERM");
    const starting = startWorker(services, { signal: aborter.signal });
    let settled = false;
    void starting.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(settled, false, "still waiting for Redis");
    const abortedAt = Date.now();
    aborter.abort(reason);
    await assert.rejects(starting, (err) => err === reason);
    assert.ok(Date.now() - abortedAt < 2_000, `rejected ${Date.now() - abortedAt} ms after the abort`);
    assert.ok(!services.logs.lines.some((l) => l.msg === "worker started"));
  });

  it("a signal aborted before the start: the start rejects at once with its reason", async () => {
    const services = await createTestServices();
    opened.push(services);
    const reason = new Error("start interrupted by SIGINT");
    await assert.rejects(startWorker(services, { signal: AbortSignal.abort(reason) }), (err) => err === reason);
    assert.ok(!services.logs.lines.some((l) => l.msg === "worker started"));
  });
});
