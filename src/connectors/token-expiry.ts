/**
 * When an upstream access token expires, when the token response does not
 * say (`expires_in` is only RECOMMENDED, RFC 6749 §5.1). Without an expiry
 * an account would have no refresh schedule and be refreshed only after a
 * proxied call met a 401, so every token an upstream issues gets one, and
 * the account says where it came from:
 *
 *  1. `expires_in`: the upstream said;
 *  2. `jwt_exp`: the access token is a JWT with an `exp` claim — decoded,
 *     never verified, and used for nothing else (the broker is not its
 *     audience and trusts nothing else it says);
 *  3. `connector_default`: the connector file's `refresh.defaultTokenLifetimeSeconds`;
 *  4. `probe`: nothing is known, so the token is renewed
 *     TOKEN_PROBE_INTERVAL_SECONDS after it was issued, which also finds a
 *     refresh token the upstream revoked within the hour rather than at the
 *     next proxied call.
 */
import { decodeJwt } from "jose";

export const EXPIRY_SOURCES = ["expires_in", "jwt_exp", "connector_default", "probe"] as const;
/** Where an account's credential expiry came from. */
export type ExpirySource = (typeof EXPIRY_SOURCES)[number];

/** How long after it was issued a token of unknown lifetime is renewed (plus the refresh margin, so the margin cannot eat it). */
export const TOKEN_PROBE_INTERVAL_SECONDS = 3600;

/** A JWT `exp` further away than this is not believed (a year: longer than any access token's life). */
const MAX_JWT_LIFETIME_SECONDS = 366 * 86_400;

export interface TokenExpiry {
  expiresAt: Date;
  expirySource: ExpirySource;
}

/** The refresh settings of a connector file that the inference reads. */
export interface ExpiryRules {
  marginSeconds: number;
  defaultTokenLifetimeSeconds?: number;
}

/**
 * The expiry of a freshly issued access token. `expiresInSeconds` is the
 * response's `expires_in`, when it had one.
 */
export function inferTokenExpiry(accessToken: string, expiresInSeconds: number | undefined, rules: ExpiryRules, now = Date.now()): TokenExpiry {
  if (expiresInSeconds !== undefined) return { expiresAt: new Date(now + expiresInSeconds * 1000), expirySource: "expires_in" };
  const exp = jwtExpiry(accessToken, now);
  if (exp !== undefined) return { expiresAt: new Date(exp), expirySource: "jwt_exp" };
  if (rules.defaultTokenLifetimeSeconds !== undefined) {
    return { expiresAt: new Date(now + rules.defaultTokenLifetimeSeconds * 1000), expirySource: "connector_default" };
  }
  return { expiresAt: new Date(now + (TOKEN_PROBE_INTERVAL_SECONDS + rules.marginSeconds) * 1000), expirySource: "probe" };
}

/** A JWT access token's `exp` in epoch milliseconds, when it has a believable one (in the future, within a year). */
function jwtExpiry(accessToken: string, now: number): number | undefined {
  // Cheap test first: most opaque tokens are not three base64url parts.
  if (accessToken.split(".").length !== 3) return undefined;
  let exp: unknown;
  try {
    exp = decodeJwt(accessToken).exp;
  } catch {
    return undefined;
  }
  if (typeof exp !== "number" || !Number.isFinite(exp)) return undefined;
  const ms = exp * 1000;
  return ms > now && ms <= now + MAX_JWT_LIFETIME_SECONDS * 1000 ? ms : undefined;
}
