/**
 * Who is calling the proxy, and for which account (RFC 6750 bearer tokens,
 * RFC 9068 JWT access tokens verified locally: signature (checked once per
 * token and process, src/oauth/tokens.ts), issuer, audience, expiry and the
 * signing key's publication, then revocation on every call
 * (src/revocation/revocation.ts).
 *
 * Two ways in:
 * - `/v1/proxy/…` with an account-bound token (`acct` claim): the account is
 *   the token's;
 * - `/v1/accounts/<id>/proxy/…` with a token of the app itself
 *   (client_credentials: `sub` = `client_id`, no `acct`), for any account the
 *   app owns. An account-bound token is accepted there only for its own
 *   account.
 * Both need the `proxy` scope. Whether the app owns the account is checked
 * when the account is loaded (accounts of other apps are answered 404).
 */
import type { IncomingHttpHeaders } from "node:http";
import { BadRequest, isInvalidToken, InsufficientScope, InvalidToken, NotFound } from "../errors.js";
import { verifyAccessToken, type AccessTokenClaims } from "../oauth/tokens.js";
import type { Services } from "../services.js";
import { bearerChallenge, bearerTokenOf } from "../oauth/bearer.js";
import { proxyResourceMetadataUrl } from "../oauth/protected-resource-metadata.js";
import { hasScope } from "../oauth/scopes.js";
import { andThen } from "../maybe-promise.js";

export const PROXY_SCOPE = "proxy";

export interface ProxyCaller {
  claims: AccessTokenClaims;
  /** The app (broker client) making the call. */
  appId: string;
  /** The account to act for. */
  accountId: string;
}

/** The proxy's challenges point at its RFC 9728 metadata (§5.1): a client learns there which authorization server to ask, and for which resource. */
const challenge = (services: CallerServices, error?: "invalid_token" | "insufficient_scope", description?: string) =>
  bearerChallenge(error, description, error === "insufficient_scope" ? PROXY_SCOPE : undefined, proxyResourceMetadataUrl(services.config.issuer));

/** What verifying a caller's token needs. */
export type CallerServices = Pick<Services, "config" | "signingKeys" | "redis">;

/** The caller's token refused: the proxy's challenge (RFC 6750 §3.1) goes with it. */
function withChallenge(services: CallerServices, err: unknown): unknown {
  return isInvalidToken(err)
    ? new InvalidToken(err.description, { detail: err.detail, cause: err, headers: challenge(services, "invalid_token", err.description) })
    : err;
}

/**
 * The verified claims of the request's bearer token: at once for a token
 * the process verified lately (verifyAccessToken), so the proxy's common call
 * is authenticated without a turn of the event loop.
 */
function verifiedClaims(services: CallerServices, headers: IncomingHttpHeaders): AccessTokenClaims | Promise<AccessTokenClaims> {
  const token = bearerTokenOf(headers);
  if (token === undefined) {
    // RFC 6750 §3.1: a request without credentials gets a challenge without an error code.
    const description = headers.authorization === undefined ? "a bearer access token is required" : "the Authorization header is not a bearer token";
    throw new InvalidToken(description, {
      headers: headers.authorization === undefined ? challenge(services) : challenge(services, "invalid_token", description),
    });
  }
  const claims = verifyAccessToken(services, token, "proxy");
  return claims instanceof Promise
    ? claims.catch((err: unknown) => {
        throw withChallenge(services, err);
      })
    : claims;
}

function requireProxyScope(services: CallerServices, claims: AccessTokenClaims): void {
  if (!hasScope(claims.scope, PROXY_SCOPE)) {
    throw new InsufficientScope(`the access token lacks the "${PROXY_SCOPE}" scope`, {
      headers: challenge(services, "insufficient_scope", `the access token lacks the ${PROXY_SCOPE} scope`),
    });
  }
}

/** `/v1/proxy/…`: the account comes from the token. Throws, or rejects, with the refusal. */
export function accountBoundCaller(services: CallerServices, headers: IncomingHttpHeaders): ProxyCaller | Promise<ProxyCaller> {
  return andThen(verifiedClaims(services, headers), (claims) => accountBound(services, claims));
}

function accountBound(services: CallerServices, claims: AccessTokenClaims): ProxyCaller {
  requireProxyScope(services, claims);
  if (typeof claims.acct !== "string" || claims.acct === "") {
    throw new BadRequest("the access token is not bound to an account: an app token proxies through /v1/accounts/{accountId}/proxy/");
  }
  return { claims, appId: claims.client_id, accountId: claims.acct };
}

/** `/v1/accounts/<id>/proxy/…`: a token of the app itself, or one bound to this very account. Throws, or rejects, with the refusal. */
export function appCaller(services: CallerServices, headers: IncomingHttpHeaders, accountId: string): ProxyCaller | Promise<ProxyCaller> {
  return andThen(verifiedClaims(services, headers), (claims) => forApp(services, claims, accountId));
}

function forApp(services: CallerServices, claims: AccessTokenClaims, accountId: string): ProxyCaller {
  requireProxyScope(services, claims);
  const appToken = claims.acct === undefined && claims.sub === claims.client_id;
  // A token bound to another account learns nothing: the same answer as an account of another app.
  if (!appToken && claims.acct !== accountId) throw new NotFound(`no account ${accountId}`);
  return { claims, appId: claims.client_id, accountId };
}
