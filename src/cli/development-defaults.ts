/**
 * Embedded defaults for development (`npm start`, `npm run demo`): on a
 * machine with Node.js and nothing else, the broker starts its own
 * PostgreSQL and Redis. A server is embedded only when its URL is not set
 * (DATABASE_URL, REDIS_URL) and nothing answers on its default local port;
 * it then listens on that port, so the default URLs of src/config.ts reach
 * it. An explicit URL always wins; NODE_ENV=production never embeds.
 */
import { connect } from "node:net";
import { join } from "node:path";
import type { Logger } from "../log.js";
import { CliError } from "./output.js";
import { startEmbeddedPostgres, type EmbeddedServer } from "./embedded-postgres.js";
import { findRedisServer, REDIS_INSTALL_HINT, startEmbeddedRedis } from "./embedded-redis.js";

/** Where embedded servers keep their data, under the working directory (git-ignored). */
export const EMBEDDED_DATA_DIR = ".authbroker";

/** The defaults of src/config.ts's DATABASE_URL and REDIS_URL. */
const POSTGRES = { port: 5432, user: "postgres", password: "postgres" };
const REDIS_PORT = 6379;

export interface DevelopmentDefaults {
  /** What was embedded: "PostgreSQL", "Redis", both or none. */
  embedded: string[];
  /** Stops what was embedded, Redis and PostgreSQL together. */
  stop(): Promise<void>;
}

/** Whether anything accepts a TCP connection on 127.0.0.1:port. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => done(true));
  });
}

const isSet = (value: string | undefined) => value !== undefined && value !== "";

export async function startDevelopmentDefaults(env: NodeJS.ProcessEnv, log: Logger): Promise<DevelopmentDefaults> {
  const none: DevelopmentDefaults = { embedded: [], stop: async () => undefined };
  if (env.NODE_ENV === "production") return none;
  const embedPostgres = !isSet(env.DATABASE_URL) && !(await answers(POSTGRES.port));
  const embedRedis = !isSet(env.REDIS_URL) && !(await answers(REDIS_PORT));
  // Checked before anything starts, so a missing redis-server leaves nothing running.
  const redisServer = embedRedis ? findRedisServer(env.PATH) : undefined;
  if (embedRedis && !redisServer) throw new CliError(`no Redis answers on 127.0.0.1:${REDIS_PORT} and redis-server is not on the PATH: ${REDIS_INSTALL_HINT}`);

  const started: EmbeddedServer[] = [];
  const stop = async () => {
    await Promise.all(started.splice(0).map((server) => server.stop()));
  };
  try {
    if (embedPostgres) started.push(await startEmbeddedPostgres({ dataDir: join(EMBEDDED_DATA_DIR, "postgres"), ...POSTGRES, log }));
    if (redisServer) started.push(await startEmbeddedRedis({ executable: redisServer, port: REDIS_PORT, log }));
  } catch (err) {
    await stop();
    throw new CliError((err as Error).message);
  }
  const embedded = [...(embedPostgres ? ["PostgreSQL"] : []), ...(redisServer ? ["Redis"] : [])];
  if (embedded.length > 0)
    log.info(
      {
        embedded,
        ...(embedPostgres ? { postgres: `127.0.0.1:${POSTGRES.port}, data in ${join(EMBEDDED_DATA_DIR, "postgres")}` } : {}),
        ...(redisServer ? { redis: `127.0.0.1:${REDIS_PORT} (${redisServer}), nothing kept on disk` } : {}),
      },
      `development defaults: embedded ${embedded.join(" and ")} (stopped on exit; set DATABASE_URL / REDIS_URL to use your own)`,
    );
  return { embedded, stop };
}
