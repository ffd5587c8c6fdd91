/**
 * Start-up checks that turn a missing dependency into one clear line (which
 * URL was tried and how to fix it) instead of a stack trace.
 */
import pg from "pg";
import { Redis } from "ioredis";
import { describeDatabaseUrl } from "./db.js";
import { describeRedisUrl } from "./redis.js";

export class PreflightError extends Error {
  override name = "PreflightError";
}

const FIX = "start it, or run `docker compose up -d postgres redis`";

export async function checkPostgres(databaseUrl: string, options: { requireSchema?: boolean } = {}): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "3D000") throw new PreflightError(`PostgreSQL database missing at ${describeDatabaseUrl(databaseUrl)}: run \`npx authbroker migrate\``);
    throw new PreflightError(`PostgreSQL unreachable at ${describeDatabaseUrl(databaseUrl)} (${code ?? (err as Error).message}): ${FIX}`);
  }
  try {
    if (options.requireSchema) {
      const { rows } = await client.query<{ present: boolean }>(`SELECT to_regclass('public."App"') IS NOT NULL AS present`);
      if (!rows[0]?.present)
        throw new PreflightError(`PostgreSQL at ${describeDatabaseUrl(databaseUrl)} has no authbroker tables: run \`npx authbroker migrate\``);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function checkRedis(redisUrl: string): Promise<void> {
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // connect() rejects with a bare "Connection is closed."; the reason (ECONNREFUSED…) comes as an event.
  let socketError: Error | undefined;
  redis.on("error", (err: Error) => (socketError ??= err));
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    const reason = (socketError ?? err) as Error & { code?: string };
    throw new PreflightError(`Redis unreachable at ${describeRedisUrl(redisUrl)} (${reason.code ?? reason.message}): ${FIX}`);
  } finally {
    // After a failed connect the client has ended already; disconnecting again
    // would start a 2 s timer (ioredis) that holds the process before it exits.
    if (redis.status !== "end") redis.disconnect();
  }
}
