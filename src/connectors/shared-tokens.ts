/**
 * Upstream tokens shared by every account of a connector app
 * (client_credentials): kept in Redis, sealed (they are bearer tokens), for
 * as long as they are valid. Every `serve` and `worker` process sees the
 * same entry, and when it runs out one caller — under a Redis lock — fetches
 * the next token while the others wait for it, so N accounts refreshing at
 * once cost one upstream request.
 *
 * A token is reused while it stays valid for more than the connector's
 * refresh margin; an account whose own copy is about to expire therefore
 * adopts a newer cached one rather than asking the upstream again.
 *
 * A token the upstream refused before its expiry (a 401 at the proxy) is
 * dropped with `drop`, only while it is still the cached one: another
 * process may already have stored its successor, which must stay.
 */
import type { Keyring } from "../crypto/keyring.js";
import type { Redis } from "../redis.js";
import { tryLock, waitForRelease } from "../lock.js";
import type { SharedTokenCache, UpstreamTokens } from "./kinds/types.js";
import type { ExpirySource } from "./token-expiry.js";

const KEY_PREFIX = "upstream:shared-token:";
const SEAL_FIELD = "SharedUpstreamToken";
const LOCK_TTL_MS = 45_000;
/** How long a token the upstream gave no lifetime is reused before another is fetched. */
const NO_EXPIRY_TTL_MS = 3_600_000;
/** Deletes the entry only if it still holds the sealed value that was read (another process may have replaced it). */
const DELETE_IF_UNCHANGED = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

interface CachedTokens {
  accessToken: string;
  tokenType: string;
  /** Epoch milliseconds; absent when the upstream said nothing. */
  expiresAt?: number;
  expirySource?: ExpirySource;
  scope?: string;
}

export class RedisSharedTokens implements SharedTokenCache {
  constructor(
    private readonly redis: Redis,
    private readonly keyring: Keyring,
  ) {}

  async getOrFetch(key: string, marginSeconds: number, fetch: () => Promise<UpstreamTokens>): Promise<UpstreamTokens> {
    const fresh = await this.read(key, marginSeconds);
    if (fresh) return fresh;
    const lockKey = `lock:${KEY_PREFIX}${key}`;
    const lock = await tryLock(this.redis, lockKey, LOCK_TTL_MS);
    if (!lock) {
      // Another process is fetching this very token: use what it stores.
      await waitForRelease(this.redis, lockKey, LOCK_TTL_MS);
      return (await this.read(key, marginSeconds)) ?? this.store(key, await fetch());
    }
    try {
      return (await this.read(key, marginSeconds)) ?? (await this.store(key, await fetch()));
    } finally {
      await lock.release().catch(() => undefined);
    }
  }

  async drop(key: string, refusedAccessToken: string): Promise<boolean> {
    const sealed = await this.redis.get(KEY_PREFIX + key);
    if (!sealed) return false;
    const cached = this.open(key, sealed);
    // A token that cannot be opened is never served (read() skips it): nothing to drop.
    if (!cached || cached.accessToken !== refusedAccessToken) return false;
    // Sealing is randomised, so the sealed text names this very store: a newer token differs from it.
    return (await this.redis.eval(DELETE_IF_UNCHANGED, 1, KEY_PREFIX + key, sealed)) === 1;
  }

  private open(key: string, sealed: string): CachedTokens | undefined {
    try {
      return this.keyring.openJson<CachedTokens>(sealed, { rowId: key, field: SEAL_FIELD });
    } catch {
      // Sealed under a key this broker no longer has (BROKER_ENCRYPTION_KEYS replaced).
      return undefined;
    }
  }

  private async read(key: string, marginSeconds: number): Promise<UpstreamTokens | undefined> {
    const sealed = await this.redis.get(KEY_PREFIX + key);
    if (!sealed) return undefined;
    const cached = this.open(key, sealed);
    // Unreadable (sealed under a key this broker no longer has): fetch a new one.
    if (!cached) return undefined;
    if (cached.expiresAt !== undefined && cached.expiresAt - Date.now() <= marginSeconds * 1000) return undefined;
    return {
      accessToken: cached.accessToken,
      tokenType: cached.tokenType,
      expiresAt: cached.expiresAt === undefined ? undefined : new Date(cached.expiresAt),
      expirySource: cached.expirySource,
      scope: cached.scope,
    };
  }

  private async store(key: string, tokens: UpstreamTokens): Promise<UpstreamTokens> {
    const cached: CachedTokens = {
      accessToken: tokens.accessToken,
      tokenType: tokens.tokenType,
      expiresAt: tokens.expiresAt?.getTime(),
      expirySource: tokens.expirySource,
      scope: tokens.scope,
    };
    const ttl = cached.expiresAt === undefined ? NO_EXPIRY_TTL_MS : cached.expiresAt - Date.now();
    if (ttl > 0) await this.redis.set(KEY_PREFIX + key, this.keyring.sealJson(cached, { rowId: key, field: SEAL_FIELD }), "PX", Math.ceil(ttl));
    return tokens;
  }
}
