/**
 * The broker as an operator runs it — `node bin/authbroker.js serve|worker|all`
 * in a process of its own, configured only through the environment — for
 * tests that kill a process (SIGKILL mid-refresh) or run several against
 * the same databases. The child runs in an empty directory, so the
 * checkout's `.env` cannot leak into it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Services } from "../../src/services.js";

const BIN = fileURLToPath(new URL("../../bin/authbroker.js", import.meta.url));

export interface BrokerProcess {
  role: string;
  child: ChildProcess;
  /** Everything the process wrote so far (pino JSON lines, stderr). */
  output(): string;
  /** Parsed JSON log lines so far. */
  logLines(): Record<string, unknown>[];
  /** Resolves when a log line's `msg` matches. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends `signal` and waits for the process to exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** The environment that makes a child process the same broker as `services` (same databases, keys, queues, connectors). */
export function brokerProcessEnv(services: Pick<Services, "config">, extra: Record<string, string> = {}): Record<string, string> {
  const { config } = services;
  return {
    DATABASE_URL: config.databaseUrl,
    REDIS_URL: config.redisUrl,
    BROKER_ISSUER: config.issuer,
    BROKER_ENCRYPTION_KEYS: config.encryptionKeys.map((k) => `${k.kid}:${Buffer.from(k.key).toString("base64")}`).join(","),
    CONNECTORS_DIR: config.connectorsDir,
    BROKER_QUEUE_PREFIX: config.queuePrefix,
    BROKER_ALLOW_PRIVATE_HOSTS: config.allowPrivateHosts.cidrs.map((c) => c.text).join(","),
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: "info",
    SHUTDOWN_GRACE_MS: "1000",
    ...extra,
  };
}

const MAX_OUTPUT_CHARS = 4 * 1024 * 1024;

const running = new Set<ChildProcess>();
process.once("exit", () => {
  // A test that fails before stopping its processes must not leave them behind.
  for (const child of running) child.kill("SIGKILL");
});

export interface StartOptions {
  /** @defaultValue 30 000 ms */
  readyTimeoutMs?: number;
  /**
   * Ready when this URL (its /readyz) answers 200, rather than when the start
   * is logged: for a process that logs at `warn`.
   */
  readyUrl?: string;
}

export async function startBrokerProcess(role: "serve" | "worker" | "all", env: Record<string, string>, options: StartOptions = {}): Promise<BrokerProcess> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const cwd = mkdtempSync(join(tmpdir(), "authbroker-process-"));
  const child = spawn(process.execPath, [BIN, role], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? cwd, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  let text = "";
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const onOutput = (chunk: Buffer) => {
    text += chunk.toString("utf8");
    // A long run (the soak) must not grow this process: keep the recent output only.
    if (text.length > MAX_OUTPUT_CHARS) text = text.slice(text.indexOf("\n", text.length - MAX_OUTPUT_CHARS / 2) + 1);
    for (const waiter of [...waiters]) {
      if (logLines().some((l) => typeof l.msg === "string" && waiter.pattern.test(l.msg))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  child.stdout!.on("data", onOutput);
  child.stderr!.on("data", onOutput);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      running.delete(child);
      rmSync(cwd, { recursive: true, force: true });
      resolve();
    }),
  );

  const logLines = () =>
    text
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });

  const waitForLog = (pattern: RegExp, timeoutMs = 30_000) =>
    new Promise<void>((resolve, reject) => {
      if (logLines().some((l) => typeof l.msg === "string" && pattern.test(l.msg))) return resolve();
      const timer = setTimeout(
        () => reject(new Error(`${role} process: no log line matching ${pattern} within ${timeoutMs} ms; output:\n${text.slice(-3000)}`)),
        timeoutMs,
      );
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      waiters.push({ pattern, resolve: done });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${role} process exited (code ${child.exitCode}, signal ${child.signalCode}) before ${pattern}; output:\n${text.slice(-3000)}`));
      });
    });

  const kill = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };

  const process_: BrokerProcess = {
    role,
    child,
    output: () => text,
    logLines,
    waitForLog,
    kill,
    stop: async (graceMs = 5_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await kill("SIGTERM");
      clearTimeout(timer);
    },
  };
  try {
    if (options.readyUrl) await waitForReady(options.readyUrl, readyTimeoutMs, exited, () => text);
    else await waitForLog(role === "worker" ? /^worker started$/ : /^authbroker listening$/, readyTimeoutMs);
  } catch (err) {
    // The caller never gets this process to stop: a child left running keeps
    // the test file's process alive after its tests end (a CI run once hung 77 min so).
    await kill("SIGKILL");
    throw err;
  }
  return process_;
}

async function waitForReady(url: string, timeoutMs: number, exited: Promise<void>, output: () => string): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !gone) {
    const ok = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) }).then(
      (res) => res.status === 200,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the broker at ${url} was not ready within ${timeoutMs} ms${gone ? " (it exited)" : ""}; output:\n${output().slice(-3000)}`);
}

/** The URL a `serve` or `all` process listens on (from its start-up log line). */
export function listeningUrl(processes: BrokerProcess): string {
  const line = processes.logLines().find((l) => l.msg === "authbroker listening");
  if (!line || typeof line.url !== "string") throw new Error("the process has not logged its URL");
  return line.url;
}
