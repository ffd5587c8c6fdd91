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
});
