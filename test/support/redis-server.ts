/**
 * A Redis server of a test's own, on a free port: tests that take Redis away
 * (stop it, start it again) must never touch the shared one on 6379, which
 * other test files use at the same time. Nothing is persisted.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { answersPing } from "../../src/cli/embedded-redis.js";
import { freePort } from "./ports.js";

export interface TestRedisServer {
  url: string;
  port: number;
  /** Stops the server (SIGTERM) and waits until it has exited and the port is closed. */
  stop(): Promise<void>;
  /** Starts it again on the same port and waits until it answers PING. */
  start(): Promise<void>;
}

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

function spawnRedis(port: number): ChildProcess {
  const child = spawn("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--daemonize", "no"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Drain the output so the child never blocks on a full pipe.
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

export async function startRedisServer(): Promise<TestRedisServer> {
  let port = 0;
  let child: ChildProcess | undefined;
  // The port could be taken between picking it and binding it: try a few.
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    port = await freePort();
    const candidate = spawnRedis(port);
    const exited = new Promise<boolean>((resolve) => candidate.once("exit", () => resolve(false)));
    const ready = waitFor(() => answersPing(port), `redis-server on port ${port}`, 5_000).then(() => true);
    if (await Promise.race([ready, exited])) child = candidate;
    else candidate.kill("SIGKILL");
  }
  if (!child) throw new Error("could not start redis-server on a free port");

  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()));
    running.kill("SIGTERM");
    await exited;
    await waitFor(async () => !(await answersPing(port)), `port ${port} to close`);
  };

  const start = async () => {
    if (child) return;
    child = spawnRedis(port);
    await waitFor(() => answersPing(port), `redis-server to come back on port ${port}`);
  };

  // A test that fails before stop() must not leave a server running.
  const current = () => child;
  process.once("exit", () => current()?.kill("SIGKILL"));

  return { url: `redis://127.0.0.1:${port}`, port, stop, start };
}
