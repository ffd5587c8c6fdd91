/**
 * `/healthz` says the process is up; `/readyz` says Postgres and Redis answer.
 * A dependency going away turns /readyz to 503 and its return turns it back
 * to 200 without restarting the broker; a dead or silent dependency never
 * makes /readyz hang.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { brokerApp } from "../../../src/main.js";
import { listen, type RunningServer } from "../../../src/http/server.js";
import { createLogger } from "../../../src/log.js";
import { closeServices, createServices } from "../../../src/compose.js";
import { type Services } from "../../../src/services.js";
import { freePort } from "../../support/ports.js";
import { startRedisServer, type TestRedisServer } from "../../support/redis-server.js";
import { createTestServices, LogCapture, testConfig, type TestServices } from "../../support/services.js";

interface Probe {
  status: number;
  body: { status: string; checks: { postgres: string; redis: string } };
  headers: Headers;
  elapsedMs: number;
}

async function readyz(base: string): Promise<Probe> {
  const started = performance.now();
  const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as Probe["body"], headers: res.headers, elapsedMs: performance.now() - started };
}

/** Polls /readyz until it answers `status`, within a bounded wait. */
async function pollUntil(base: string, status: number, timeoutMs: number): Promise<Probe> {
  const deadline = Date.now() + timeoutMs;
  let last: Probe | undefined;
  while (Date.now() < deadline) {
    last = await readyz(base);
    if (last.status === status) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`/readyz did not answer ${status} within ${timeoutMs} ms; last answer ${last?.status} ${JSON.stringify(last?.body)}`);
}

/** A TCP server that accepts connections and never says a word: a hung dependency. */
async function silentServer(): Promise<{ url: (scheme: string) => string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: (scheme) => `${scheme}://postgres@127.0.0.1:${port}/authbroker`,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function serve(services: Services): Promise<RunningServer> {
  return listen(brokerApp(services), 0, "127.0.0.1");
}

describe("/readyz follows Redis without a restart", () => {
  let redis: TestRedisServer;
  let services: TestServices;
  let server: RunningServer;

  before(async () => {
    redis = await startRedisServer();
    services = await createTestServices({ REDIS_URL: redis.url });
    server = await serve(services);
  });
  after(async () => {
    await server?.close(0);
    await services?.teardown();
    await redis?.stop();
  });

  it("answers 200 with both checks ok while Postgres and Redis are up", async () => {
    const probe = await readyz(server.url);
    assert.equal(probe.status, 200);
    assert.deepEqual(probe.body, { status: "ready", checks: { postgres: "ok", redis: "ok" } });
    assert.equal(probe.headers.get("cache-control"), "no-store");
  });

  it("goes 503 when Redis stops, while /healthz stays 200", async () => {
    await redis.stop();
    const probe = await pollUntil(server.url, 503, 10_000);
    assert.deepEqual(probe.body, { status: "unavailable", checks: { postgres: "ok", redis: "unreachable" } });
    assert.equal(probe.headers.get("retry-after"), "5");
    assert.ok(probe.elapsedMs < 2_000, `answered in ${Math.round(probe.elapsedMs)} ms`);
    // It keeps answering 503, quickly, while Redis stays down (long enough for reconnects to fail).
    for (const until = Date.now() + 1_500; Date.now() < until;) {
      const again = await readyz(server.url);
      assert.equal(again.status, 503);
      assert.ok(again.elapsedMs < 2_000, `answered in ${Math.round(again.elapsedMs)} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }

    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok" });
  });

  it("goes back to 200 when Redis returns on the same address, with the same broker", async () => {
    await redis.start();
    const probe = await pollUntil(server.url, 200, 15_000);
    assert.deepEqual(probe.body.checks, { postgres: "ok", redis: "ok" });
    // The broker's own client reconnected: a command goes through.
    assert.equal(await services.redis.ping(), "PONG");
  });

  it("logged the outage once, without a stack for each reconnect attempt", () => {
    const lines = services.logs.lines;
    const down = lines.filter((l) => l.msg === "redis unreachable, reconnecting");
    assert.equal(down.length, 1);
    assert.equal((down[0]!.err as { stack?: string }).stack, undefined);
    assert.equal(lines.filter((l) => l.msg === "redis reachable again").length, 1);
  });
});

describe("/readyz when a dependency is down or hung", () => {
  const opened: { services: Services; server: RunningServer }[] = [];
  const silent: { close(): Promise<void> }[] = [];
  after(async () => {
    for (const { services, server } of opened) {
      await server.close(0);
      await closeServices(services);
    }
    for (const s of silent) await s.close();
  });

  async function brokerWith(env: Record<string, string>) {
    const config = testConfig(env);
    const services = await createServices(config, createLogger("warn", new LogCapture()));
    const server = await serve(services);
    opened.push({ services, server });
    return server;
  }

  it("answers 503 at once when nothing listens on the DATABASE_URL port", async () => {
    const port = await freePort();
    const server = await brokerWith({ DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/authbroker` });
    const probe = await readyz(server.url);
    assert.equal(probe.status, 503);
    assert.deepEqual(probe.body, { status: "unavailable", checks: { postgres: "unreachable", redis: "ok" } });
    assert.ok(probe.elapsedMs < 2_000, `answered in ${Math.round(probe.elapsedMs)} ms`);
  });

  it("answers 503 within about a second when Postgres accepts connections but never answers", async () => {
    const hung = await silentServer();
    silent.push(hung);
    const server = await brokerWith({ DATABASE_URL: hung.url("postgresql") });
    for (let i = 0; i < 3; i++) {
      const probe = await readyz(server.url);
      assert.equal(probe.status, 503);
      assert.equal(probe.body.checks.postgres, "unreachable");
      assert.ok(probe.elapsedMs < 2_000, `answered in ${Math.round(probe.elapsedMs)} ms`);
    }
  });

  it("answers 503 within about a second when Redis accepts connections but never answers", async () => {
    const hung = await silentServer();
    silent.push(hung);
    const database = await createTestServices();
    try {
      const server = await brokerWith({ DATABASE_URL: database.database.url, REDIS_URL: hung.url("redis").replace("postgres@", "") });
      const probe = await readyz(server.url);
      assert.equal(probe.status, 503);
      assert.deepEqual(probe.body.checks, { postgres: "ok", redis: "unreachable" });
      assert.ok(probe.elapsedMs < 2_000, `answered in ${Math.round(probe.elapsedMs)} ms`);
    } finally {
      const last = opened.pop();
      if (last) {
        await last.server.close(0);
        // QUIT would wait forever on a server that never answers.
        last.services.redis.disconnect();
        await closeServices(last.services);
      }
      await database.teardown();
    }
  });
});
