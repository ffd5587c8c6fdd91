/**
 * Bearer tokens on the broker's own APIs (RFC 6750): the broker's JWT access
 * tokens, verified locally (signature, iss, aud, exp) plus the one-round-trip
 * revocation check, then the scope the route needs. Refusals carry the RFC
 * 6750 §3 challenge.
 */
import type { IncomingHttpHeaders } from "node:http";
import { isInvalidToken, InsufficientScope, InvalidToken } from "../errors.js";
import type { Authenticator } from "../http/route.js";
import { verifyAccessToken, type AccessTokenClaims } from "./tokens.js";
import type { Services } from "../services.js";
import { brokerResourceMetadataUrl } from "./protected-resource-metadata.js";
import { hasScope } from "./scopes.js";

const REALM = "authbroker";

/**
 * The RFC 6750 §3 challenge. `resourceMetadata`: the RFC 9728 §5.1 URL of
 * the resource's metadata, so a client without a token learns which
 * authorization server to ask (MCP clients start there).
 */
export function bearerChallenge(
  error?: "invalid_token" | "insufficient_scope",
  description?: string,
  scope?: string,
  resourceMetadata?: string,
): Record<string, string> {
  const params = [`realm="${REALM}"`];
  if (error) params.push(`error="${error}"`);
  if (description) params.push(`error_description="${description.replace(/["\\]/g, "")}"`);
  if (scope) params.push(`scope="${scope}"`);
  if (resourceMetadata) params.push(`resource_metadata="${resourceMetadata}"`);
  return { "WWW-Authenticate": `Bearer ${params.join(", ")}` };
}

/** The token of an `Authorization: Bearer` header; the broker takes tokens from no other place. */
export function bearerTokenOf(headers: IncomingHttpHeaders): string | undefined {
  return /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)[ ]*$/i.exec(headers.authorization ?? "")?.[1];
}

/** Verifies the request's bearer token and that it has one of `scopes` (any of them). */
export async function authenticateBearer(
  services: Pick<Services, "config" | "signingKeys" | "redis">,
  headers: IncomingHttpHeaders,
  scopes: string[],
): Promise<AccessTokenClaims> {
  const metadata = brokerResourceMetadataUrl(services.config.issuer);
  const token = bearerTokenOf(headers);
  if (token === undefined) {
    const description = headers.authorization === undefined ? "a bearer access token is required" : "the Authorization header is not a bearer token";
    // RFC 6750 §3.1: a request without any authentication gets a bare challenge, no error details.
    const challenge =
      headers.authorization === undefined
        ? bearerChallenge(undefined, undefined, undefined, metadata)
        : bearerChallenge("invalid_token", description, undefined, metadata);
    throw new InvalidToken(description, { headers: challenge });
  }
  let claims: AccessTokenClaims;
  try {
    // The broker's APIs accept tokens for the issuer only (RFC 8707): a token for the proxy or a resource server is refused.
    claims = await verifyAccessToken(services, token, "broker");
  } catch (err) {
    if (isInvalidToken(err))
      throw new InvalidToken(err.description, { detail: err.detail, headers: bearerChallenge("invalid_token", err.description, undefined, metadata) });
    throw err;
  }
  if (!scopes.some((s) => hasScope(claims.scope, s))) {
    const description = `the token needs scope ${scopes.join(" or ")}`;
    throw new InsufficientScope(description, { headers: bearerChallenge("insufficient_scope", description, scopes.join(" "), metadata) });
  }
  return claims;
}

/** A route's authenticator: a broker access token with one of `scopes` (the route table declares it). */
export function bearer(services: Pick<Services, "config" | "signingKeys" | "redis">, scopes: string[]): Authenticator<AccessTokenClaims> {
  return { name: `bearer ${scopes.join(" or ")}`, authenticate: (req) => authenticateBearer(services, req.headers, scopes) };
}
