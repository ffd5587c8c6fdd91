/** Redis connections (ioredis). */
import { Redis, type RedisOptions } from "ioredis";

export type { Redis };

/**
 * A Redis client that reconnects forever with capped backoff, and fails
 * commands fast while disconnected instead of queueing them, so a request
 * answers 503 rather than hanging when Redis is down.
 */
export function createRedis(redisUrl: string, options: RedisOptions = {}): Redis {
  return new Redis(redisUrl, {
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    ...options,
  });
}

/**
 * Resolves once `redis` is connected and ready. With the offline queue off a
 * command sent while the connection is still being made fails at once, so a
 * short-lived process (a CLI verb) waits for this before its first command.
 */
export function whenReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === "ready") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      redis.off("ready", onReady);
      reject(new Error(`Redis was not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    redis.once("ready", onReady);
  });
}

/** The server part of a Redis URL, for one-line error messages (no password). */
export function describeRedisUrl(redisUrl: string): string {
  const u = new URL(redisUrl);
  return `${u.protocol}//${u.hostname}:${u.port || 6379}${u.pathname === "/" ? "" : u.pathname}`;
}
