/**
 * `GET /oauth/jwks`: the public keys that verify the broker's tokens, the
 * current one and every previous one still published (RFC 7517; OIDC
 * Discovery `jwks_uri`). Clients cache it for five minutes and re-fetch when
 * a token names an unknown `kid`, so a rotation is seen without a restart.
 */
import type { JWK } from "jose";
import type { Services } from "../services.js";
import { sendDocument } from "../http/json.js";
import type { Exchange } from "../http/route.js";

/** The public members of each key type (RFC 7518 §6); anything else (d, p, q, dp, dq, qi, k, oth…) never leaves. */
const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  EC: ["crv", "x", "y"],
  OKP: ["crv", "x"],
  RSA: ["n", "e"],
};
const COMMON_MEMBERS = ["kty", "kid", "alg", "use", "key_ops"] as const;

/**
 * Keeps only public members: the stored JWKs are public already, but the
 * one place that publishes keys should not rely on every writer of that
 * table to have got it right. Symmetric keys are never published.
 */
export function publicJwk(jwk: JWK): JWK | undefined {
  const members = jwk.kty ? PUBLIC_MEMBERS[jwk.kty] : undefined;
  if (!members) return undefined;
  const source = jwk as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const name of [...COMMON_MEMBERS, ...members]) if (source[name] !== undefined) out[name] = source[name];
  return out as JWK;
}

/** `GET /oauth/jwks` (a direct route: every resource server fetches it). */
export function jwksEndpoint(services: Services): (exchange: Exchange) => Promise<void> {
  return async ({ req, res }) => {
    const { keys } = await services.signingKeys.jwks();
    res.setHeader("Cache-Control", "public, max-age=300");
    sendDocument(req, res, JSON.stringify({ keys: keys.map(publicJwk).filter((k) => k !== undefined) }), "application/jwk-set+json; charset=utf-8");
  };
}
