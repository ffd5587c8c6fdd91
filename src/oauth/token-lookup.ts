/**
 * What the introspection and revocation endpoints need to know of a token
 * an app presents (RFC 7662, RFC 7009): whether it is one of the broker's
 * access tokens (a JWT it signed) or refresh tokens (a row found by its
 * hash), and whose it is. Neither endpoint may tell an app anything about
 * another app's token.
 */
import { hashSecret } from "../crypto/secrets.js";
import { BrokerError } from "../errors.js";
import type { Services } from "../services.js";
import { NOW_UTC } from "./grants/grant.js";
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

/** The refresh token with this value, or undefined (a value that cannot be one is simply not found). */
export async function findRefreshTokenState(services: Pick<Services, "db">, token: string): Promise<RefreshTokenState | undefined> {
  if (token.length > 512) return undefined;
  const rows = await services.db.$queryRaw<RefreshTokenState[]>`
    SELECT t."familyId", f."appId", f."accountId", f."scope", t."expiresAt", t."createdAt",
           (t."usedAt" IS NULL AND t."expiresAt" > ${NOW_UTC} AND f."revokedAt" IS NULL) AS "active"
      FROM "RefreshToken" t JOIN "RefreshFamily" f ON f."id" = t."familyId"
     WHERE t."tokenHash" = ${hashSecret(token)}`;
  return rows[0];
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
export async function readAccessToken(services: Pick<Services, "config" | "signingKeys" | "redis">, token: string, options: { checkRevocation: boolean }): Promise<AccessTokenClaims | undefined> {
  if (!mayBeJwt(token)) return undefined;
  try {
    return options.checkRevocation ? await verifyAccessToken(services, token) : await verifyAccessTokenSignature(services, token);
  } catch (err) {
    if (err instanceof BrokerError && err.code === "invalid_token") return undefined;
    throw err;
  }
}
