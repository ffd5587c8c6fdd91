/**
 * `GET|POST /oauth/userinfo` (OIDC Core §5.3): the claims of the account an
 * access token with scope `openid` acts for — the same identity claims, for
 * the token's scope, as the ID token (identity-claims.ts).
 *
 * The token comes in the `Authorization: Bearer` header only (RFC 6750
 * §2.1; never in a query string, RFC 9700 §4.3.2). Failures carry the RFC
 * 6750 §3 `WWW-Authenticate` challenge: 401 `invalid_token` for a missing,
 * bad, expired or revoked token, 403 `insufficient_scope` without `openid`.
 * Open to scripts (browser apps call it), the challenge readable (the
 * route table's `cors`). Userinfo is one of the broker's own APIs: it
 * accepts tokens for the issuer only (`aud`, RFC 8707), so a token issued
 * for a resource server or the proxy is refused here even with `openid`.
 */
import { InvalidToken, type OAuthError } from "../errors.js";
import { sendJson } from "../http/json.js";
import type { Exchange } from "../http/route.js";
import { bearerChallenge } from "./bearer.js";
import { brokerResourceMetadataUrl } from "./protected-resource-metadata.js";
import type { Services } from "../services.js";
import { forbidCaching } from "./back-channel.js";
import type { AccessTokenClaims } from "./tokens.js";
import { identityClaims } from "./identity-claims.js";

function accountGone(issuer: string): OAuthError {
  const description = "the account of this token no longer exists or was revoked";
  return new InvalidToken(description, { headers: bearerChallenge("invalid_token", description, undefined, brokerResourceMetadataUrl(issuer)) });
}

/** `GET|POST /oauth/userinfo`; the token is checked by the route's authenticator (scope `openid`). */
export function userinfoEndpoint(services: Services): (exchange: Exchange<AccessTokenClaims>) => Promise<void> {
  return async ({ res, caller: claims }) => {
    forbidCaching(res);
    if (!claims.acct) throw accountGone(services.config.issuer);
    const account = await services.db.account.findUnique({
      where: { id: claims.acct },
      select: { id: true, appId: true, connectorId: true, hostname: true, profile: true, status: true },
    });
    if (!account || account.appId !== claims.client_id || account.status === "revoked") throw accountGone(services.config.issuer);
    sendJson(res, 200, identityClaims(account, claims.scope));
  };
}
