/**
 * Graceful shutdown. The real `authbroker` process on SIGTERM/SIGINT stops
 * accepting, drains, closes its pools and exits 0, even when Redis is down;
 * the HTTP listener lets in-flight requests finish within the grace period.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import express from "express";
import { listen } from "../../../src/http/server.js";
import { createTestDatabase, type TestDatabase } from "../../support/db.js";
import { freePort } from "../../support/ports.js";
import { startRedisServer } from "../../support/redis-server.js";
import { startTcpProxy } from "../../support/tcp-proxy.js";
import { until } from "../../support/wait.js";
import { randomKeyEntry, TEST_REDIS_URL } from "../../support/services.js";

const BIN = fileURLToPath(new URL("../../../bin/authbroker.js", import.meta.url));

interface BrokerProcess {
  child: ChildProcess;
  url: string;
  port: number;
  output(): { stdout: string; stderr: string };
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }>;
}

let workDir: string;

function startProcess(role: string, env: Record<string, string>, port: number): BrokerProcess {
  let stdout = "";
  let stderr = "";
  const child = spawn(process.execPath, [BIN, role], {
    cwd: workDir,
    env: { PATH: process.env.PATH ?? "", CONNECTORS_DIR: join(workDir, "connectors"), PORT: String(port), LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  let signalledAt = 0;
  const kill = child.kill.bind(child);
  child.kill = (signal?: NodeJS.Signals | number) => {
    signalledAt = Date.now();
    return kill(signal);
  };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, afterMs: Date.now() - signalledAt })),
  );
  return { child, url: `http://127.0.0.1:${port}`, port, output: () => ({ stdout, stderr }), exited };
}

async function waitForReady(broker: BrokerProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (broker.child.exitCode !== null) assert.fail(`broker exited early (${broker.child.exitCode}): ${broker.output().stderr}`);
    try {
      const res = await fetch(`${broker.url}/readyz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`broker not ready within ${timeoutMs} ms: ${broker.output().stderr}`);
}

async function exitWithin<T>(exited: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not exit within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function portIsClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

/** The JSON log lines a process wrote on stdout. */
function logLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("the authbroker process shuts down on a signal", () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  const started: BrokerProcess[] = [];

  before(async () => {
    workDir = mkdtempSync(join(tmpdir(), "authbroker-shutdown-"));
    mkdirSync(join(workDir, "connectors"));
    database = await createTestDatabase();
    env = { DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL, BROKER_ENCRYPTION_KEYS: randomKeyEntry(), SHUTDOWN_GRACE_MS: "2000" };
  });
  after(async () => {
    for (const broker of started) if (broker.child.exitCode === null) broker.child.kill("SIGKILL");
    await database.drop();
    rmSync(workDir, { recursive: true, force: true });
  });

  it("`all` exits 0 on SIGTERM within a few seconds and its port closes", async () => {
    const broker = startProcess("all", env, await freePort());
    started.push(broker);
    await waitForReady(broker);
    // A kept-alive connection from an earlier request must not hold the server open.
    const agentSocket = connect({ port: broker.port, host: "127.0.0.1" });
    await new Promise((resolve) => agentSocket.once("connect", resolve));
    agentSocket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n");
    await new Promise((resolve) => agentSocket.once("data", resolve));

    broker.child.kill("SIGTERM");
    const { code, signal, afterMs } = await exitWithin(broker.exited, 8_000);
    agentSocket.destroy();
    assert.equal(signal, null);
    assert.equal(code, 0, broker.output().stderr);
    assert.ok(afterMs < 5_000, `exited ${afterMs} ms after SIGTERM`);
    assert.ok(await portIsClosed(broker.port));
    const { stdout, stderr } = broker.output();
    assert.equal(stderr, "");
    const messages = logLines(stdout).map((l) => l.msg);
    assert.ok(messages.includes("authbroker listening"), stdout);
    assert.ok(messages.includes("shutting down"), stdout);
    assert.ok(!logLines(stdout).some((l) => (l.level as number) >= 50), `no error lines: ${stdout}`);
  });

  it("a SIGTERM that arrives while the broker is still starting also ends in a clean exit 0", async () => {
    const broker = startProcess("all", env, await freePort());
    started.push(broker);
    // Signal the moment the port accepts: the worker is typically still starting then.
    const deadline = Date.now() + 30_000;
    while ((await portIsClosed(broker.port)) && Date.now() < deadline) {
      if (broker.child.exitCode !== null) assert.fail(`broker exited early: ${broker.output().stderr}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    broker.child.kill("SIGTERM");
    const { code, signal } = await exitWithin(broker.exited, 10_000);
    assert.equal(signal, null, "not killed by the signal's default action");
    assert.equal(code, 0, broker.output().stderr);
    assert.ok(await portIsClosed(broker.port));
  });

  it("`serve` exits 0 on SIGINT (Ctrl-C)", async () => {
    const broker = startProcess("serve", env, await freePort());
    started.push(broker);
    await waitForReady(broker);
    broker.child.kill("SIGINT");
    const { code } = await exitWithin(broker.exited, 8_000);
    assert.equal(code, 0, broker.output().stderr);
    assert.ok(await portIsClosed(broker.port));
  });

  it("`worker` starts, connects to Redis and exits 0 on SIGTERM", async () => {
    const broker = startProcess("worker", env, await freePort());
    started.push(broker);
    const deadline = Date.now() + 30_000;
    while (!logLines(broker.output().stdout).some((l) => l.msg === "worker started") && Date.now() < deadline) {
      if (broker.child.exitCode !== null) assert.fail(`worker exited early: ${broker.output().stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(
      logLines(broker.output().stdout).some((l) => l.msg === "worker started"),
      broker.output().stdout,
    );
    // The worker role serves no HTTP.
    assert.ok(await portIsClosed(broker.port));
    broker.child.kill("SIGTERM");
    const { code } = await exitWithin(broker.exited, 8_000);
    assert.equal(code, 0, broker.output().stderr);
    assert.ok(
      logLines(broker.output().stdout).some((l) => l.msg === "worker stopped"),
      broker.output().stdout,
    );
  });

  it("a SIGTERM while the worker waits for a Redis that went away during the start ends the start, and the process exits 0", async () => {
    // CI once saw `all` hang here: /readyz answered, Redis went away while the
    // worker was still starting, its consumers then waited for Redis forever,
    // and the signal that came next never reached a running broker.
    const redis = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(TEST_REDIS_URL).port || 6379) });
    try {
      const broker = startProcess("all", { ...env, REDIS_URL: `redis://127.0.0.1:${redis.port}`, SHUTDOWN_GRACE_MS: "1000" }, await freePort());
      started.push(broker);
      // The worker starts after the listener: take Redis away the moment the broker says it listens.
      await until("the broker to listen", async () => broker.output().stdout.includes('"authbroker listening"'), 30_000, 2);
      await redis.cut();
      broker.child.kill("SIGTERM");
      const { code, signal, afterMs } = await exitWithin(broker.exited, 12_000);
      assert.equal(signal, null, "not killed by the signal's default action");
      assert.equal(code, 0, broker.output().stderr);
      assert.ok(afterMs < 9_000, `exited ${afterMs} ms after SIGTERM`);
      assert.ok(await portIsClosed(broker.port));
      assert.ok(logLines(broker.output().stdout).some((l) => l.msg === "shutting down"));
    } finally {
      await redis.close();
    }
  });

  it("`all` still exits 0, without hanging, when Redis is down at SIGTERM", async () => {
    const redis = await startRedisServer();
    try {
      const broker = startProcess("all", { ...env, REDIS_URL: redis.url, SHUTDOWN_GRACE_MS: "1000" }, await freePort());
      started.push(broker);
      await waitForReady(broker);
      await redis.stop();
      broker.child.kill("SIGTERM");
      // Grace (1 s) plus the bounded closing of the worker and the pools (3 s each).
      const { code, afterMs } = await exitWithin(broker.exited, 12_000);
      assert.equal(code, 0, broker.output().stderr);
      assert.ok(afterMs < 9_000, `exited ${afterMs} ms after SIGTERM`);
      assert.ok(await portIsClosed(broker.port));
    } finally {
      await redis.stop();
    }
  });
});

describe("the HTTP listener drains in-flight requests", () => {
  /** An app whose /slow answers after `delayMs`; `started` resolves when a request reached it, `finishedAt` when its answer went out. */
  function slowApp(delayMs: number) {
    const app = express();
    let reached: () => void = () => undefined;
    const state = { started: new Promise<void>((resolve) => (reached = resolve)), finishedAt: 0 };
    app.get("/slow", async (_req, res) => {
      reached();
      res.once("finish", () => (state.finishedAt = Date.now()));
      await new Promise((r) => setTimeout(r, delayMs));
      res.json({ finished: true });
    });
    return { app, state };
  }

  function get(url: string): Promise<{ status: number; body: string; connection: string | undefined }> {
    return new Promise((resolve, reject) => {
      request(url, (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
        res.on("error", reject);
      })
        .on("error", reject)
        .end();
    });
  }

  it("lets a request in flight finish, refuses new connections, then closes", async () => {
    const { app, state } = slowApp(600);
    const server = await listen(app, 0, "127.0.0.1");
    const port = Number(new URL(server.url).port);
    const inFlight = get(`${server.url}/slow`);
    await state.started;

    const startedAt = Date.now();
    let closedAt = 0;
    const closing = server.close(5_000).then(() => (closedAt = Date.now()));
    assert.ok(await portIsClosed(port), "no new connections once closing");

    const response = await inFlight;
    assert.equal(response.status, 200);
    assert.deepEqual(JSON.parse(response.body), { finished: true });
    // The client is told not to reuse the connection.
    assert.equal(response.connection, "close");
    await closing;
    assert.ok(state.finishedAt > 0 && closedAt >= state.finishedAt, "closed only after the in-flight answer went out");
    assert.ok(closedAt - startedAt < 2_000, `closed ${closedAt - startedAt} ms after close() began, not at the end of the grace period`);
  });

  it("cuts a request that outlives the grace period, and closes on time", async () => {
    const { app, state } = slowApp(10_000);
    const server = await listen(app, 0, "127.0.0.1");
    const inFlight = get(`${server.url}/slow`).then(
      () => "answered",
      (err: NodeJS.ErrnoException) => err.code ?? "error",
    );
    await state.started;
    const startedAt = Date.now();
    await server.close(500);
    const tookMs = Date.now() - startedAt;
    assert.ok(tookMs >= 450 && tookMs < 2_000, `closed after ${tookMs} ms`);
    assert.equal(await inFlight, "ECONNRESET");
  });
});
