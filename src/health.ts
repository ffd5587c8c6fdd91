/**
 * `/healthz`: the process is up. `/readyz`: Postgres and Redis answer within
 * a second; 503 otherwise, so a load balancer stops sending traffic while a
 * dependency is down and resumes when it is back, without a restart.
 */
import type { Redis } from "./redis.js";
import type { Services } from "./services.js";
import { sendJson } from "./http/json.js";
import type { Exchange } from "./http/route.js";
import { withTimeout } from "./http/timeout.js";

const CHECK_TIMEOUT_MS = 1_000;

async function check(probe: () => Promise<unknown>): Promise<"ok" | "unreachable"> {
  try {
    await withTimeout(probe(), CHECK_TIMEOUT_MS);
    return "ok";
  } catch {
    return "unreachable";
  }
}

/**
 * PING once the client is connected. With the offline queue off, ioredis
 * refuses commands while a connection is being made, so a probe right after
 * start would report Redis down when it is only being reached; wait for that
 * connection instead (the probe's timeout bounds the wait).
 */
async function pingRedis(redis: Redis): Promise<unknown> {
  const deadline = Date.now() + CHECK_TIMEOUT_MS;
  while ((redis.status === "connecting" || redis.status === "connect") && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return redis.ping();
}

/** `GET /healthz`: the process is up. */
export function healthz(): (exchange: Exchange) => void {
  return ({ res }) => sendJson(res, 200, { status: "ok" });
}

/** `GET /readyz`: PostgreSQL and Redis answer. */
export function readyz(services: Pick<Services, "db" | "redis">): (exchange: Exchange) => Promise<void> {
  return async ({ res }) => {
    const [postgres, redis] = await Promise.all([check(() => services.db.$queryRawUnsafe("SELECT 1")), check(() => pingRedis(services.redis))]);
    const ready = postgres === "ok" && redis === "ok";
    if (!ready) res.setHeader("Retry-After", "5");
    res.setHeader("Cache-Control", "no-store");
    sendJson(res, ready ? 200 : 503, { status: ready ? "ready" : "unavailable", checks: { postgres, redis } });
  };
}
