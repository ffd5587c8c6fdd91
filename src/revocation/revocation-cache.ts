/**
 * What this process knows about revocations without asking Redis: the
 * revocation check of every proxied call, userinfo and introspection used to
 * be a Redis round trip each (the largest cost the broker's proxy added to a
 * bare one, docs/benchmarks.md). Every revocation is also published on one
 * Redis channel; each process that checks tokens subscribes to it, and while
 * its subscription is live it remembers the revocation keys Redis said were
 * absent ("clear"), forgetting one the moment a revocation of it arrives.
 *
 * Why this is as safe as asking every time:
 * - A revocation writes its key, then publishes it (src/revocation/revocation.ts).
 *   A key is remembered clear only from an EXISTS sent while the
 *   subscription was already live: if the revocation's write came after that
 *   EXISTS, its message comes after the subscription started, so it reaches
 *   this process. Messages are kept as "revoked" until the token they cover
 *   expires, and a check looks there first, so a message that overtakes the
 *   EXISTS answer still wins.
 * - When the subscription drops (Redis restarts, the connection breaks, Redis
 *   drops a slow subscriber), every clear entry is forgotten at once and each
 *   check goes to Redis again until the subscription is back: nothing
 *   published meanwhile can be missed.
 * - Keys written without a message (restoreRevocations publishes too) or
 *   lost by Redis only matter for as long as a clear entry lives: at most
 *   CLEAR_TTL_MS, a backstop for anything unforeseen.
 * - Redis unreachable: the check throws as before (503), never "clear".
 */
import type { Redis } from "../redis.js";

/** The channel revocations are published on: the revoked key, then its lifetime in seconds ("<key> <seconds>"). */
export const REVOCATIONS_CHANNEL = "revocations";

/** Longest a key is taken as clear without asking Redis again. */
const CLEAR_TTL_MS = 30_000;
const MAX_CLEAR = 50_000;
const MAX_REVOKED = 100_000;

class RevocationCache {
  private readonly subscriber: Redis;
  private live = false;
  /** Incremented whenever the subscription drops: an EXISTS sent in an older session proves nothing now. */
  private session = 0;
  /** Key → time it stops being clear (ms). */
  private readonly clear = new Map<string, number>();
  /** Key → time its revocation stops mattering (ms), from messages. */
  private readonly revoked = new Map<string, number>();

  constructor(private readonly redis: Redis) {
    this.subscriber = redis.duplicate({ lazyConnect: true, enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.subscriber.on("message", (_channel: string, message: string) => this.onMessage(message));
    this.subscriber.on("ready", () => {
      // ioredis re-subscribes by itself on reconnect; the session counts as live once Redis confirms it.
      this.subscriber.subscribe(REVOCATIONS_CHANNEL).then(
        () => {
          this.live = true;
        },
        () => this.drop(),
      );
    });
    for (const event of ["close", "end", "reconnecting"]) this.subscriber.on(event, () => this.drop());
    // Errors surface as reconnects (and as the command connection's own errors); not logged twice here.
    this.subscriber.on("error", () => undefined);
    this.subscriber.connect().catch(() => this.drop());
  }

  /** What this process knows without asking Redis: revoked, clear, or undefined (ask). */
  knownNow(keys: readonly string[]): boolean | undefined {
    const now = Date.now();
    if (keys.some((key) => (this.revoked.get(key) ?? 0) > now)) return true;
    if (this.live && keys.every((key) => (this.clear.get(key) ?? 0) > now)) return false;
    return undefined;
  }

  async isRevoked(keys: readonly string[]): Promise<boolean> {
    const known = this.knownNow(keys);
    if (known !== undefined) return known;
    const session = this.live ? this.session : -1;
    const found = (await this.redis.exists(...keys)) > 0;
    if (found) return true;
    const after = Date.now();
    // A message that arrived while the EXISTS was on its way wins over its answer.
    if (keys.some((key) => (this.revoked.get(key) ?? 0) > after)) return true;
    if (this.live && session === this.session) for (const key of keys) this.rememberClear(key, after + CLEAR_TTL_MS);
    return false;
  }

  private rememberClear(key: string, until: number): void {
    this.clear.delete(key);
    if (this.clear.size >= MAX_CLEAR) this.clear.delete(this.clear.keys().next().value!);
    this.clear.set(key, until);
  }

  private onMessage(message: string): void {
    const [key, seconds] = message.split(" ");
    if (!key) return;
    this.clear.delete(key);
    const lifetimeMs = Number(seconds) > 0 ? Number(seconds) * 1000 : CLEAR_TTL_MS;
    if (this.revoked.size >= MAX_REVOKED) {
      const now = Date.now();
      for (const [k, until] of this.revoked) if (until <= now) this.revoked.delete(k);
    }
    if (this.revoked.size >= MAX_REVOKED) {
      // Forgetting a revocation is safe only while no clear entry could contradict it.
      this.clear.clear();
      this.revoked.delete(this.revoked.keys().next().value!);
    }
    this.revoked.set(key, Date.now() + lifetimeMs);
  }

  private drop(): void {
    this.session++;
    this.live = false;
    this.clear.clear();
  }

  close(): void {
    this.drop();
    this.subscriber.disconnect();
  }
}

/** One cache per command connection (as the verified-token cache is per set of signing keys). */
const caches = new WeakMap<Redis, RevocationCache>();

function cacheOf(redis: Redis): RevocationCache {
  let cache = caches.get(redis);
  if (!cache) caches.set(redis, (cache = new RevocationCache(redis)));
  return cache;
}

/** Whether any of the revocation keys exists, answered from this process's knowledge when it can be trusted. */
export function revocationKeysExist(redis: Redis, keys: readonly string[]): Promise<boolean> {
  return cacheOf(redis).isRevoked(keys);
}

/** This process's answer for the keys when it can be trusted without Redis; undefined when Redis must be asked. */
export function revocationKnownNow(redis: Redis, keys: readonly string[]): boolean | undefined {
  return cacheOf(redis).knownNow(keys);
}

/** Closes the subscription of `redis`'s cache, if one was made (at shutdown, with the connection). */
export function closeRevocationCache(redis: Redis): void {
  caches.get(redis)?.close();
  caches.delete(redis);
}
