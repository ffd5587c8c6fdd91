/**
 * A Redis server for development: `redis-server` from the PATH (npm ships
 * none), on loopback, keeping nothing on disk (queues and schedules are
 * rebuilt from PostgreSQL by the reconciler).
 */
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { connect } from "node:net";
import { delimiter, join } from "node:path";
import type { Logger } from "../log.js";
import type { EmbeddedServer } from "./embedded-postgres.js";

/** What to do when there is no Redis and no redis-server to start. */
export const REDIS_INSTALL_HINT =
  "install redis-server (apt-get install redis-server, dnf install redis, brew install redis) or run `docker compose up -d redis`, or set REDIS_URL";

/** The redis-server executable on the PATH, if there is one. */
export function findRedisServer(path = process.env.PATH ?? ""): string | undefined {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, "redis-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Sends PING over a raw socket; true when the server answers +PONG. */
export function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")));
  });
}

/** How long redis-server may take to answer, and to stop. */
const TIMEOUT_MS = 10_000;

export async function startEmbeddedRedis(options: { executable: string; port: number; log: Logger }): Promise<EmbeddedServer> {
  const child = spawn(
    options.executable,
    ["--port", String(options.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
    // Its own process group: a Ctrl-C in the terminal must not stop Redis before the broker has drained.
    { stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-2_000);
    options.log.debug({ redis: chunk.toString("utf8").trimEnd() }, "embedded Redis");
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let running = true;
  void exited.then(() => (running = false));
  // A last resort: however this process ends, Redis ends with it.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const deadline = Date.now() + TIMEOUT_MS;
  while (!(await answersPing(options.port))) {
    if (!running || Date.now() > deadline) {
      child.kill("SIGKILL");
      process.removeListener("exit", killOnExit);
      const reason = output.trim().split("\n").at(-1) ?? "no output";
      throw new Error(`embedded Redis did not start on 127.0.0.1:${options.port}: ${reason}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    async stop() {
      process.removeListener("exit", killOnExit);
      if (!running) return;
      child.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const stopped = await Promise.race([exited.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), TIMEOUT_MS)))]);
      clearTimeout(timer);
      if (!stopped) child.kill("SIGKILL");
    },
  };
}
