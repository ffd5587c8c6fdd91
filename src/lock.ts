/**
 * A Redis lock per key (SET NX PX with a random token; released only by its
 * holder, through a compare-and-delete script). Used so that, across any
 * number of processes, one caller refreshes an account while the others wait
 * for its result.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "./redis.js";

const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

export interface HeldLock {
  release(): Promise<void>;
}

export async function tryLock(redis: Redis, key: string, ttlMs: number): Promise<HeldLock | undefined> {
  const token = randomBytes(16).toString("hex");
  const ok = await redis.set(key, token, "PX", ttlMs, "NX");
  if (ok !== "OK") return undefined;
  return {
    release: async () => {
      await redis.eval(RELEASE, 1, key, token);
    },
  };
}

/** Waits until `key` is free (or `timeoutMs` passes); returns whether it was released. */
export async function waitForRelease(redis: Redis, key: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let delay = 25;
  while (Date.now() < deadline) {
    if ((await redis.exists(key)) === 0) return true;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 250);
  }
  return false;
}
