/**
 * Revocation of the broker's JWT access tokens, checked on every use: in
 * Redis, or in what this process learnt from Redis and the revocations
 * published since (src/oauth/revocation-cache.ts), which saves the round
 * trip for a token checked again and again.
 *
 * An access token is self-contained, so revoking one means remembering its
 * `jti`, and revoking a grant (a refresh family: a replayed code, a reused
 * refresh token, an account revoked) means remembering its `gid`, which every
 * access token issued under the grant carries. Both are Redis keys:
 * `revoked:jti:<jti>` and `revoked:grant:<gid>`, each kept only as long as a
 * token it covers can still be valid (access tokens live minutes to hours),
 * so the set stays small without any cleanup job.
 *
 * Why this is sound:
 * - The database is the record of grant revocations (`RefreshFamily.revokedAt`);
 *   Redis is a copy kept where the hot path can afford to read it. Refresh
 *   tokens are always checked against the database, so a grant can never be
 *   extended once revoked, whatever Redis holds.
 * - If Redis is unreachable, `isRevoked` throws and the request fails with
 *   503: a token is never taken as valid because the check could not run.
 * - If Redis loses its data (restart without persistence, failover to an
 *   empty replica, a flush), `restoreRevocations` rewrites the grant keys from
 *   the database: run at `serve` start and periodically by the reconciler.
 *   Until it runs, an access token of a revoked grant may be accepted, at most
 *   until its own `exp` (the app's access-token lifetime).
 * - Single-token revocations (`revokeAccessToken`, RFC 7009) live in Redis
 *   only; losing them re-admits those tokens until they expire, which is the
 *   same bound RFC 7009 §2 accepts for self-contained tokens whose revocation
 *   does not propagate.
 */
import type { Redis } from "../redis.js";
import type { Services } from "../services.js";
import { recordAudit } from "../audit.js";
import { REVOCATIONS_CHANNEL, revocationKeysExist } from "./revocation-cache.js";

/** Clock skew allowed when verifying tokens; a revocation outlives the token by this much. */
export const REVOCATION_LEEWAY_SECONDS = 60;

/**
 * The least time a grant revocation is kept. An app's access-token lifetime
 * may be lowered after it issued tokens with a longer one; this floor covers
 * those tokens for any lifetime up to a day. Keys are tiny and revocations
 * rare, so the floor costs nothing.
 */
const GRANT_REVOCATION_FLOOR_SECONDS = 86_400;

export function revokedJtiKey(jti: string): string {
  return `revoked:jti:${jti}`;
}

export function revokedGrantKey(grantId: string): string {
  return `revoked:grant:${grantId}`;
}

/** The claims the revocation check reads. */
export interface RevocableClaims {
  jti: string;
  gid?: string | undefined;
}

/** Whether the token or its grant is revoked: EXISTS over both keys, or the revocation cache's answer. */
export async function isRevoked(redis: Redis, claims: RevocableClaims): Promise<boolean> {
  const keys = claims.gid ? [revokedJtiKey(claims.jti), revokedGrantKey(claims.gid)] : [revokedJtiKey(claims.jti)];
  return revocationKeysExist(redis, keys);
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

function grantRevocationSeconds(accessTokenTtl: number | undefined): number {
  return Math.max(accessTokenTtl ?? 0, GRANT_REVOCATION_FLOOR_SECONDS) + REVOCATION_LEEWAY_SECONDS;
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
export async function revokeFamily(services: Pick<Services, "db" | "redis" | "clients" | "log">, familyId: string, reason: string, context: { requestId?: string } = {}): Promise<void> {
  const now = new Date();
  const { count } = await services.db.refreshFamily.updateMany({ where: { id: familyId, revokedAt: null }, data: { revokedAt: now, revokedReason: reason } });
  const family = await services.db.refreshFamily.findUnique({ where: { id: familyId }, select: { appId: true, accountId: true } });
  const client = family ? await services.clients.find(family.appId) : undefined;
  await markGrantRevoked(services.redis, familyId, grantRevocationSeconds(client?.accessTokenTtl));
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
export async function revokeAccountGrants(services: Pick<Services, "db" | "redis" | "clients" | "log">, accountId: string, reason: string, context: { requestId?: string } = {}): Promise<number> {
  const families = await services.db.refreshFamily.findMany({ where: { accountId, revokedAt: null }, select: { id: true } });
  for (const family of families) await revokeFamily(services, family.id, reason, context);
  return families.length;
}

/**
 * Rewrites the Redis keys of every grant revoked recently enough that one of
 * its access tokens may still be valid. Call at start and periodically: it
 * makes a Redis that lost its data agree with the database again.
 */
export async function restoreRevocations(services: Pick<Services, "db" | "redis">): Promise<number> {
  const [row] = await services.db.$queryRawUnsafe<{ ttl: number | null }[]>(`SELECT max("accessTokenTtl") AS ttl FROM "App"`);
  const window = grantRevocationSeconds(Number(row?.ttl ?? 0));
  const since = new Date(Date.now() - window * 1000);
  const families = await services.db.refreshFamily.findMany({ where: { revokedAt: { gt: since } }, select: { id: true, revokedAt: true } });
  if (families.length === 0) return 0;
  const pipeline = services.redis.pipeline();
  for (const family of families) {
    const remaining = window - Math.floor((Date.now() - family.revokedAt!.getTime()) / 1000);
    // Published too: a process that took one of these keys as clear (Redis had lost it) forgets that at once.
    if (remaining > 0) pipeline.set(revokedGrantKey(family.id), "1", "EX", remaining).publish(REVOCATIONS_CHANNEL, `${revokedGrantKey(family.id)} ${remaining}`);
  }
  const results = (await pipeline.exec()) ?? [];
  const failed = results.find(([err]) => err);
  if (failed) throw failed[0];
  return families.length;
}
