/**
 * What the introspection and revocation endpoints need to know of a token
 * an app presents (RFC 7662, RFC 7009): whether it is one of the broker's
 * access tokens (a JWT it signed) or refresh tokens (a row found by its
 * hash), and whose it is. Neither endpoint may tell an app anything about
 * another app's token.
 */
import { hashSecret } from "../crypto/secrets.js";
import { isInvalidToken } from "../errors.js";
import type { Services } from "../services.js";
import { sqlRows, type SqlStatement } from "../db.js";
import { NOW_UTC_SQL } from "./grants/grant.js";
import { verifyAccessToken, verifyAccessTokenSignature, type AccessTokenClaims } from "./tokens.js";

/** RFC 7009 §2.1 / RFC 7662 §2.1 `token_type_hint` values the broker knows. */
export type TokenTypeHint = "access_token" | "refresh_token";

/** The order to try token types in: the hint first (RFC 7009 §2.1: the hint only speeds the lookup up). */
export function lookupOrder(hint: string | undefined): TokenTypeHint[] {
  return hint === "refresh_token" ? ["refresh_token", "access_token"] : ["access_token", "refresh_token"];
}

/** A refresh token as the back-channel endpoints see it. */
export interface RefreshTokenState {
  familyId: string;
  appId: string;
  accountId: string | null;
  scope: string;
  /** Not used, not expired, its grant not revoked. */
  active: boolean;
  expiresAt: Date;
  createdAt: Date;
}

/**
 * Straight through pg (db.ts sqlRows: a fifth of Prisma's CPU per query);
 * times come as milliseconds since the epoch (`extract(epoch …)` of a UTC
 * `timestamp`), never as pg's own conversion of a `timestamp`.
 */
const FIND_REFRESH_TOKEN_STATE: SqlStatement = {
  name: "find-refresh-token-state",
  text: `
    SELECT t."familyId", f."appId", f."accountId", f."scope",
           (extract(epoch FROM t."expiresAt") * 1000)::float8 AS "expiresAtMs",
           (extract(epoch FROM t."createdAt") * 1000)::float8 AS "createdAtMs",
           (t."usedAt" IS NULL AND t."expiresAt" > ${NOW_UTC_SQL} AND f."revokedAt" IS NULL) AS "active"
      FROM "RefreshToken" t JOIN "RefreshFamily" f ON f."id" = t."familyId"
     WHERE t."tokenHash" = $1`,
};

/** The refresh token with this value, or undefined (a value that cannot be one is simply not found). */
export async function findRefreshTokenState(services: Pick<Services, "db">, token: string): Promise<RefreshTokenState | undefined> {
  if (token.length > 512) return undefined;
  const [row] = await sqlRows<Omit<RefreshTokenState, "expiresAt" | "createdAt"> & { expiresAtMs: number; createdAtMs: number }>(
    services.db,
    FIND_REFRESH_TOKEN_STATE,
    [hashSecret(token)],
  );
  if (!row) return undefined;
  const { expiresAtMs, createdAtMs, ...state } = row;
  return { ...state, expiresAt: new Date(expiresAtMs), createdAt: new Date(createdAtMs) };
}

/** A JWT has three dot-separated parts; a broker refresh token has none. */
function mayBeJwt(token: string): boolean {
  return token.split(".").length === 3;
}

/**
 * The claims of a valid broker access token — signed by the broker, unexpired
 * and, with `checkRevocation`, not revoked — or undefined for anything else.
 * Only an outage (Redis down) throws: an unanswerable question must not pass
 * as "inactive".
 */
export async function readAccessToken(
  services: Pick<Services, "config" | "signingKeys" | "redis">,
  token: string,
  options: { checkRevocation: boolean },
): Promise<AccessTokenClaims | undefined> {
  if (!mayBeJwt(token)) return undefined;
  try {
    return options.checkRevocation ? await verifyAccessToken(services, token, "any") : await verifyAccessTokenSignature(services, token);
  } catch (err) {
    if (isInvalidToken(err)) return undefined;
    throw err;
  }
}
