/**
 * Revocation of the broker's JWT access tokens, checked on every use: in
 * Redis, or in what this process learnt from Redis and the revocations
 * published since (src/revocation/revocation-cache.ts), which saves the round
 * trip for a token checked again and again.
 *
 * An access token is self-contained, so revoking one means remembering its
 * `jti`, revoking a grant (a refresh family: a replayed code, a reused
 * refresh token, an account revoked) means remembering its `gid`, which every
 * access token issued under the grant carries, and revoking a client (its app
 * was deleted) means remembering its `client_id`, which every token carries:
 * client-credentials tokens belong to no grant, and one with scope `admin`
 * must not go on administering the broker once its app is gone. All three
 * are Redis keys, `revoked:jti:<jti>`, `revoked:grant:<gid>` and
 * `revoked:client:<client_id>`, checked together in one EXISTS, each kept
 * only as long as a token it covers can still be valid (access tokens live
 * minutes to hours, a day at most), so the set stays small without any
 * cleanup job.
 *
 * Why this is sound:
 * - The database is the record of grant and client revocations
 *   (`RefreshFamily.revokedAt`, `RevokedClient`); Redis is a copy kept where
 *   the hot path can afford to read it. Refresh
 *   tokens are always checked against the database, so a grant can never be
 *   extended once revoked, whatever Redis holds.
 * - If Redis is unreachable, `isRevoked` throws and the request fails with
 *   503: a token is never taken as valid because the check could not run.
 * - If Redis loses its data (restart without persistence, failover to an
 *   empty replica, a flush), `restoreRevocations` rewrites the grant and
 *   client keys from the database: run at `serve` start and periodically by
 *   the reconciler. Until it runs, an access token of a revoked grant may be
 *   accepted, at most until its own `exp` (the app's access-token lifetime);
 *   one of a deleted app is still refused by the admin API, which looks its
 *   client up (src/admin/auth.ts), and has no account left to act for.
 * - Single-token revocations (`revokeAccessToken`, RFC 7009) live in Redis
 *   only; losing them re-admits those tokens until they expire, which is the
 *   same bound RFC 7009 §2 accepts for self-contained tokens whose revocation
 *   does not propagate.
 */
import type { Redis } from "../redis.js";
import type { Services } from "../services.js";
import { recordAudit } from "../audit.js";
import { REVOCATIONS_CHANNEL, revocationKeysExist, revocationKnownNow } from "./revocation-cache.js";

/** Clock skew allowed when verifying tokens; a revocation outlives the token by this much. */
export const REVOCATION_LEEWAY_SECONDS = 60;

/**
 * The least time a grant or client revocation is kept. An app's access-token
 * lifetime may be lowered after it issued tokens with a longer one; this
 * floor covers those tokens for any lifetime up to a day. Keys are tiny and
 * revocations rare, so the floor costs nothing.
 */
const REVOCATION_FLOOR_SECONDS = 86_400;

export function revokedJtiKey(jti: string): string {
  return `revoked:jti:${jti}`;
}

export function revokedGrantKey(grantId: string): string {
  return `revoked:grant:${grantId}`;
}

export function revokedClientKey(clientId: string): string {
  return `revoked:client:${clientId}`;
}

/** The claims the revocation check reads. */
export interface RevocableClaims {
  jti: string;
  client_id: string;
  gid?: string | undefined;
}

/**
 * The keys of each claims object met lately. A verified token's claims are
 * one frozen object shared by all its uses (oauth/tokens.ts), so the proxy
 * asks about the same keys on every call: made once, they are the very
 * strings the revocation cache holds, so its lookups neither build, hash
 * nor compare text again (docs/benchmarks.md).
 */
const keysOfClaims = new WeakMap<RevocableClaims, readonly string[]>();

function revocationKeysOf(claims: RevocableClaims): readonly string[] {
  const known = keysOfClaims.get(claims);
  if (known !== undefined) return known;
  const keys = [revokedJtiKey(claims.jti), revokedClientKey(claims.client_id)];
  if (claims.gid) keys.push(revokedGrantKey(claims.gid));
  // Only claims nothing can change are remembered: a verified token's.
  if (Object.isFrozen(claims)) keysOfClaims.set(claims, keys);
  return keys;
}

/** Whether the token, its client or its grant is revoked: one EXISTS over their keys, or the revocation cache's answer. */
export async function isRevoked(redis: Redis, claims: RevocableClaims): Promise<boolean> {
  return revocationKeysExist(redis, revocationKeysOf(claims));
}

/**
 * The revocation cache's answer when it has one without asking Redis (a
 * revocation it was told of, or keys it knows clear while its subscription
 * is live), so a token checked again and again costs no turn of the event
 * loop; undefined when only Redis can answer (`isRevoked` asks it).
 */
export function revokedNow(redis: Redis, claims: RevocableClaims): boolean | undefined {
  return revocationKnownNow(redis, revocationKeysOf(claims));
}

/**
 * Writes a revocation key, then tells every process (one transaction: the
 * key exists before the message can be read, which revocation-cache.ts relies on).
 */
async function writeRevocation(redis: Redis, key: string, seconds: number): Promise<void> {
  const results = await redis.multi().set(key, "1", "EX", seconds).publish(REVOCATIONS_CHANNEL, `${key} ${seconds}`).exec();
  const failed = results?.find(([err]) => err);
  if (failed) throw failed[0];
}

/** Revokes one access token until it expires (`exp` in seconds since the epoch). */
export async function revokeAccessToken(redis: Redis, claims: { jti: string; exp: number }): Promise<void> {
  const remaining = claims.exp - Math.floor(Date.now() / 1000) + REVOCATION_LEEWAY_SECONDS;
  if (remaining > 0) await writeRevocation(redis, revokedJtiKey(claims.jti), remaining);
}

/**
 * How long a grant or client revocation is kept: as long as an access token
 * it covers may live. `accessTokenTtl` is the app's stored lifetime, not the
 * one cut by ACCESS_TOKEN_MAX_TTL_SECONDS: tokens issued before that limit
 * existed (or while it was higher) may live that long.
 */
function revocationSeconds(accessTokenTtl: number | undefined): number {
  return Math.max(accessTokenTtl ?? 0, REVOCATION_FLOOR_SECONDS) + REVOCATION_LEEWAY_SECONDS;
}

async function markGrantRevoked(redis: Redis, familyId: string, seconds: number): Promise<void> {
  await writeRevocation(redis, revokedGrantKey(familyId), seconds);
}

/**
 * Revokes a grant: its refresh tokens (the family, in the database) and every
 * access token issued under it (the Redis key). Idempotent; the first reason
 * is kept. The database is written first, so a failure of Redis leaves the
 * revocation recorded for `restoreRevocations`.
 */
export async function revokeFamily(
  services: Pick<Services, "db" | "redis" | "clients" | "log">,
  familyId: string,
  reason: string,
  context: { requestId?: string } = {},
): Promise<void> {
  const now = new Date();
  const { count } = await services.db.refreshFamily.updateMany({ where: { id: familyId, revokedAt: null }, data: { revokedAt: now, revokedReason: reason } });
  const family = await services.db.refreshFamily.findUnique({ where: { id: familyId }, select: { appId: true, accountId: true } });
  const client = family ? await services.clients.find(family.appId) : undefined;
  await markGrantRevoked(services.redis, familyId, revocationSeconds(client?.accessTokenTtl));
  if (count > 0 && family) {
    services.log.info({ familyId, appId: family.appId, reason }, "grant revoked");
    await recordAudit(services.db, {
      action: "grant.revoked",
      actorType: "system",
      appId: family.appId,
      accountId: family.accountId ?? undefined,
      requestId: context.requestId,
      detail: { familyId, reason },
    });
  }
}

/** Revokes every live grant of an account (the account was revoked or deleted): its refresh tokens and access tokens. */
export async function revokeAccountGrants(
  services: Pick<Services, "db" | "redis" | "clients" | "log">,
  accountId: string,
  reason: string,
  context: { requestId?: string } = {},
): Promise<number> {
  const families = await services.db.refreshFamily.findMany({ where: { accountId, revokedAt: null }, select: { id: true } });
  for (const family of families) await revokeFamily(services, family.id, reason, context);
  return families.length;
}

/** A deleted client's revocation, as the database keeps it: until the last access token it was issued has expired. */
export interface ClientRevocation {
  clientId: string;
  expiresAt: Date;
}

/** The revocation of a client being deleted, whose app was registered with `accessTokenTtl` (the stored value). */
export function clientRevocation(clientId: string, accessTokenTtl: number): ClientRevocation {
  return { clientId, expiresAt: new Date(Date.now() + revocationSeconds(accessTokenTtl) * 1000) };
}

/**
 * Writes and publishes the Redis key of a client revocation the database
 * already holds (the app's deletion writes the row in its own transaction,
 * src/admin/operations.ts): from then on every process refuses the client's
 * tokens at once.
 */
export async function markClientRevoked(redis: Redis, revocation: ClientRevocation): Promise<void> {
  const remaining = Math.ceil((revocation.expiresAt.getTime() - Date.now()) / 1000);
  if (remaining > 0) await writeRevocation(redis, revokedClientKey(revocation.clientId), remaining);
}

/**
 * Rewrites the Redis keys of every grant and client revoked recently enough
 * that one of its access tokens may still be valid. Call at start and
 * periodically: it makes a Redis that lost its data agree with the database again.
 */
export async function restoreRevocations(services: Pick<Services, "db" | "redis">): Promise<number> {
  const [row] = await services.db.$queryRawUnsafe<{ ttl: number | null }[]>(`SELECT max("accessTokenTtl") AS ttl FROM "App"`);
  const window = revocationSeconds(Number(row?.ttl ?? 0));
  const since = new Date(Date.now() - window * 1000);
  const [families, clients] = await Promise.all([
    services.db.refreshFamily.findMany({ where: { revokedAt: { gt: since } }, select: { id: true, revokedAt: true } }),
    services.db.revokedClient.findMany({ where: { expiresAt: { gt: new Date() } }, select: { clientId: true, expiresAt: true } }),
  ]);
  const keys: [key: string, seconds: number][] = [
    ...families.map((family): [string, number] => [revokedGrantKey(family.id), window - Math.floor((Date.now() - family.revokedAt!.getTime()) / 1000)]),
    ...clients.map((client): [string, number] => [revokedClientKey(client.clientId), Math.ceil((client.expiresAt.getTime() - Date.now()) / 1000)]),
  ];
  if (keys.length === 0) return 0;
  const pipeline = services.redis.pipeline();
  // Published too: a process that took one of these keys as clear (Redis had lost it) forgets that at once.
  for (const [key, remaining] of keys) if (remaining > 0) pipeline.set(key, "1", "EX", remaining).publish(REVOCATIONS_CHANNEL, `${key} ${remaining}`);
  const results = (await pipeline.exec()) ?? [];
  const failed = results.find(([err]) => err);
  if (failed) throw failed[0];
  return keys.length;
}
