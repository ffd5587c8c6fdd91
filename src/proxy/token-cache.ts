/**
 * Broker access tokens whose signature this process has already checked.
 *
 * An app sends the same access token with every call until it expires; the
 * ES256/EdDSA check of it (a WebCrypto job on the thread pool) is the
 * largest fixed cost of a proxied call. What that check establishes (a
 * broker key signed these exact bytes, with this issuer, audience, type and
 * claims) cannot change for the same string, so it is remembered, keyed by
 * the token itself. What can change is checked regardless: expiry (an
 * entry never outlives the token's `exp` plus the leeway `verifyAccessToken`
 * allows, after which the full check runs again and refuses it) and, on
 * every call, revocation (src/oauth/revocation.ts: Redis, or the
 * revocation cache fed by the published revocations).
 *
 * The one thing the cache delays is the retirement of a signing key: a
 * token signed by a key that stops being published is still accepted here
 * for at most `SIGNATURE_CACHE_MS`. Entries are bounded in number.
 */
import { InvalidToken } from "../errors.js";
import { isRevoked, REVOCATION_LEEWAY_SECONDS } from "../oauth/revocation.js";
import { verifyAccessTokenSignature, type AccessTokenClaims } from "../oauth/tokens.js";
import type { Services } from "../services.js";

/** How long a checked signature is trusted without checking it again. */
export const SIGNATURE_CACHE_MS = 60_000;
const MAX_ENTRIES = 10_000;

export class VerifiedTokens {
  private readonly entries = new Map<string, { claims: AccessTokenClaims; until: number }>();

  constructor(private readonly services: Pick<Services, "config" | "signingKeys" | "redis">) {}

  /** The claims of a valid, unrevoked broker access token; `InvalidToken` otherwise. Same contract as `verifyAccessToken`. */
  async verify(token: string): Promise<AccessTokenClaims> {
    const now = Date.now();
    const cached = this.entries.get(token);
    let claims: AccessTokenClaims;
    // An entry never outlives the token (see remember): past it, jose says "expired".
    if (cached && cached.until > now) claims = cached.claims;
    else {
      claims = await verifyAccessTokenSignature(this.services, token);
      this.remember(token, claims, now);
    }
    if (await isRevoked(this.services.redis, claims)) throw new InvalidToken("the access token has been revoked");
    return claims;
  }

  private remember(token: string, claims: AccessTokenClaims, now: number): void {
    if (this.entries.size >= MAX_ENTRIES) {
      for (const [key, entry] of this.entries) if (entry.until <= now) this.entries.delete(key);
      if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    }
    // Never beyond the token's own validity.
    const until = Math.min(now + SIGNATURE_CACHE_MS, (claims.exp + REVOCATION_LEEWAY_SECONDS) * 1000);
    this.entries.set(token, { claims, until });
  }
}
