/**
 * The broker under test, run the way an operator runs it: its own process,
 * `node bin/authbroker.js serve` (or `worker`), configured only through the
 * environment, against a fresh migrated database (cloned from the tests'
 * template, test/support/db.ts) and the local Redis under a queue prefix of
 * its own. The bench process seeds data through the broker's own modules
 * (src/services.ts) on the same database, then closes them before the load.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDatabase, type TestDatabase } from "../../test/support/db.js";
import { freePort } from "../../test/support/ports.js";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { closeServices, createServices } from "../../src/compose.js";
import { type Services } from "../../src/services.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

export interface BrokerSetup {
  /** Everything the broker process is configured with. */
  env: Record<string, string>;
  url: string;
  port: number;
  database: TestDatabase;
  connectorsDir: string;
  /** The broker's own modules on the same database and Redis, for seeding. Close with `closeSeeding`. */
  openServices(): Promise<Services>;
  cleanup(): Promise<void>;
}

export interface BrokerSetupOptions {
  /** Connector files by name (objects are written as JSON). */
  connectors?: Record<string, unknown>;
  /** More environment (WORKER_CONCURRENCY, REFRESH_RATE_PER_CONNECTOR…). */
  env?: Record<string, string>;
}

/**
 * The environment of a broker of its own on 127.0.0.1:`port` (bench and
 * soak): a fresh encryption key, its own queue prefix, upstreams on
 * 127.0.0.0/8 allowed, warn-level logs (BENCH_LOG_LEVEL).
 */
export function localBrokerEnv(input: { name: string; port: number; databaseUrl: string; connectorsDir: string }): Record<string, string> {
  const url = `http://127.0.0.1:${input.port}`;
  return {
    DATABASE_URL: input.databaseUrl,
    REDIS_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
    BROKER_ENCRYPTION_KEYS: `${input.name}:${randomBytes(32).toString("base64")}`,
    BROKER_ISSUER: url,
    PORT: String(input.port),
    HOST: "127.0.0.1",
    CONNECTORS_DIR: input.connectorsDir,
    BROKER_ALLOW_PRIVATE_HOSTS: "127.0.0.0/8",
    BROKER_QUEUE_PREFIX: `${input.name}_${randomBytes(4).toString("hex")}`,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
    SHUTDOWN_GRACE_MS: "2000",
    // One client from one address at thousands of requests a second is what a
    // benchmark is, and what the rate limits exist to stop: they stay on (their
    // Redis round trip is part of every token request) but cannot trip.
    // BENCH_RATE_LIMIT=off turns them off (0) to see what they cost.
    RATE_LIMIT_PER_IP: process.env.BENCH_RATE_LIMIT === "off" ? "0" : "1000000000",
    RATE_LIMIT_PER_CLIENT: process.env.BENCH_RATE_LIMIT === "off" ? "0" : "1000000000",
  };
}

/** A fresh database, keyring, port, connectors directory and queue prefix for one broker. */
export async function prepareBroker(options: BrokerSetupOptions = {}): Promise<BrokerSetup> {
  const database = await createTestDatabase();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const connectorsDir = mkdtempSync(join(tmpdir(), "authbroker-bench-connectors-"));
  for (const [file, content] of Object.entries(options.connectors ?? {}))
    writeFileSync(join(connectorsDir, file), typeof content === "string" ? content : JSON.stringify(content, null, 2));
  const env: Record<string, string> = { ...localBrokerEnv({ name: "bench", port, databaseUrl: database.url, connectorsDir }), ...options.env };
  return {
    env,
    url,
    port,
    database,
    connectorsDir,
    async openServices() {
      const config = loadConfig(env);
      const services = await createServices(config, createLogger("warn"), env);
      // The same first key the broker would make at start (advisory-locked, so either may come first).
      await services.signingKeys.ensureCurrent();
      return services;
    },
    async cleanup() {
      await database.drop().catch(() => undefined);
      rmSync(connectorsDir, { recursive: true, force: true });
    },
  };
}

export async function closeSeeding(services: Services): Promise<void> {
  await closeServices(services);
}

export interface BrokerProcess {
  child: ChildProcess;
  pid: number;
  /** SIGTERM, wait for the clean exit (a --cpu-prof profile is written then); SIGKILL after 15 s. */
  stop(): Promise<void>;
}

/** Node flags for the broker process, e.g. `--cpu-prof --cpu-prof-dir=prof` (BENCH_NODE_ARGS). */
export function nodeArgsFromEnv(): string[] {
  return (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
}

const built = new Set<string>();

/**
 * Compiles src/ to dist/ once per bench run, so the broker runs the compiled
 * JavaScript as in production: bin/authbroker.js falls back to src/ through
 * tsx when any file in src/ is newer than dist/ (a `prisma generate` after
 * the install is enough), and tsx's loader and names cost the proxy a
 * measurable share of a call.
 */
function buildDist(repo: string): void {
  if (built.has(repo)) return;
  execFileSync(process.execPath, ["scripts/build.js"], { cwd: repo, stdio: "inherit" });
  built.add(repo);
}

/**
 * A checkout of the broker at `ref` (a commit, a branch, `HEAD~1`) beside
 * this one, built and ready to start with `startBrokerProcess(…, { repo })`:
 * for an A/B of a change in one run (bench:proxy's BENCH_BASE). A git
 * worktree in a temporary folder, sharing this checkout's node_modules and
 * generated Prisma client (the same lock file and schema are assumed).
 */
export function checkoutAt(ref: string): { repo: string; commit: string; remove(): void } {
  const commit = execFileSync("git", ["rev-parse", "--short", ref], { cwd: REPO, encoding: "utf8" }).trim();
  const repo = mkdtempSync(join(tmpdir(), "authbroker-base-"));
  execFileSync("git", ["worktree", "add", "--detach", "--force", repo, commit], { cwd: REPO, stdio: "ignore" });
  symlinkSync(join(REPO, "node_modules"), join(repo, "node_modules"));
  cpSync(join(REPO, "src/generated"), join(repo, "src/generated"), { recursive: true });
  buildDist(repo);
  return {
    repo,
    commit,
    remove: () => execFileSync("git", ["worktree", "remove", "--force", repo], { cwd: REPO, stdio: "ignore" }),
  };
}

/**
 * Starts `node bin/authbroker.js <role>` with the setup's environment (dist/ built first). For
 * `serve`, resolves once /healthz answers; for `worker`, once `ready` says so.
 */
export async function startBrokerProcess(
  setup: BrokerSetup,
  role: "serve" | "worker" | "all" = "serve",
  /** `repo`: a checkout other than this one (checkoutAt); `port`: another port than the setup's (a second broker on the same setup). */
  options: { nodeArgs?: string[]; ready?: () => Promise<boolean>; repo?: string; port?: number } = {},
): Promise<BrokerProcess> {
  const repo = options.repo ?? REPO;
  buildDist(repo);
  const child = spawn(process.execPath, [...(options.nodeArgs ?? nodeArgsFromEnv()), "bin/authbroker.js", role], {
    cwd: repo,
    // Only what the broker needs: PATH for tsx, HOME for caches; never this shell's other variables.
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      NODE_ENV: "production",
      ...setup.env,
      ...(options.port ? { PORT: String(options.port) } : {}),
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once("exit", () => ((exited = true), resolve())));
  const url = options.port ? `http://127.0.0.1:${options.port}` : setup.url;
  const ready = options.ready ?? (async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true);
  const deadline = Date.now() + 60_000;
  while (!(await ready())) {
    if (exited) throw new Error(`the broker (${role}) exited during start (code ${child.exitCode})`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the broker (${role}) did not become ready within 60 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    pid: child.pid!,
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exit;
      clearTimeout(killer);
    },
  };
}
