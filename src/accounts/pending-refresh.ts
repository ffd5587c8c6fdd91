/**
 * A refresh result the upstream gave but PostgreSQL has not stored yet.
 *
 * An upstream that rotates refresh tokens invalidates the old one the moment
 * it answers a refresh (RFC 9700 §4.14.2). If the write of its answer then
 * fails (PostgreSQL down, failing over, the connection cut), dropping the
 * answer loses the account: the stored refresh token is dead, and the next
 * refresh is refused with `invalid_grant`. So the answer is kept in Redis,
 * sealed like the vault's columns (bound to the account), from before the
 * write until the write succeeds, and the next refresh of the account stores
 * it instead of calling the upstream again (refresh.ts).
 *
 * It names the credential version it was refreshed from: stored over exactly
 * that version (the vault's compare-and-set), or dropped when the account
 * moved on meanwhile (reconnected, or refreshed from elsewhere).
 */
import type { Keyring } from "../crypto/keyring.js";
import type { Redis } from "../redis.js";
import type { ExpirySource } from "../connectors/token-expiry.js";
import type { StoredTokens } from "./vault.js";

/**
 * How long an unstored refresh result is kept: longer than any database
 * outage the broker is expected to ride out, shorter than most refresh
 * tokens live.
 */
export const PENDING_REFRESH_TTL_SECONDS = 7 * 86_400;

const SEAL_FIELD = "PendingRefreshResult";

function keyOf(accountId: string): string {
  return `refresh:pending:${accountId}`;
}

export interface PendingRefresh {
  /** The credential version the refresh started from. */
  baseVersion: number;
  tokens: StoredTokens;
}

interface SealedShape {
  baseVersion: number;
  tokens: Omit<StoredTokens, "expiresAt"> & { expiresAt?: number; expirySource?: ExpirySource };
}

/** Keeps a refresh result until it is stored. */
export async function keepPendingRefresh(redis: Redis, keyring: Keyring, accountId: string, pending: PendingRefresh): Promise<void> {
  const shape: SealedShape = { baseVersion: pending.baseVersion, tokens: { ...pending.tokens, expiresAt: pending.tokens.expiresAt?.getTime() } };
  await redis.set(keyOf(accountId), keyring.sealJson(shape, { rowId: accountId, field: SEAL_FIELD }), "EX", PENDING_REFRESH_TTL_SECONDS);
}

/** The account's unstored refresh result, if it has one (one that cannot be opened is dropped). */
export async function readPendingRefresh(redis: Redis, keyring: Keyring, accountId: string): Promise<PendingRefresh | undefined> {
  const sealed = await redis.get(keyOf(accountId));
  if (!sealed) return undefined;
  let shape: SealedShape;
  try {
    shape = keyring.openJson<SealedShape>(sealed, { rowId: accountId, field: SEAL_FIELD });
  } catch {
    // Sealed under a key this broker no longer has: nothing can be done with it.
    await dropPendingRefresh(redis, accountId);
    return undefined;
  }
  const { expiresAt, ...tokens } = shape.tokens;
  return { baseVersion: shape.baseVersion, tokens: { ...tokens, ...(expiresAt !== undefined ? { expiresAt: new Date(expiresAt) } : {}) } };
}

export async function dropPendingRefresh(redis: Redis, accountId: string): Promise<void> {
  await redis.del(keyOf(accountId));
}
