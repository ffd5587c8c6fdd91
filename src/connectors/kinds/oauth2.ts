/**
 * `oauth2`: a plain OAuth 2.0 upstream (GitHub and the like). The endpoints
 * come from the connector file; who connected comes from `identity.url`.
 */
import type * as oidc from "openid-client";
import { createAuthorizationCodeKind, filled, type AuthorizationCodeKind } from "./authorization-code.js";
import { identityFromUrl } from "./identity.js";

export function createOAuth2Kind(): AuthorizationCodeKind {
  return createAuthorizationCodeKind({
    kind: "oauth2",
    openid: false,
    async serverMetadata(ctx, auth) {
      const authorizationEndpoint = filled(ctx, auth.authorizationUrl);
      return {
        // openid-client needs an issuer identifier; a plain OAuth 2.0 upstream has none, so its
        // authorization server's origin stands in (it is never compared: see exchangeCode).
        issuer: new URL(authorizationEndpoint).origin,
        authorization_endpoint: authorizationEndpoint,
        token_endpoint: filled(ctx, auth.tokenUrl),
        code_challenge_methods_supported: auth.pkce ? ["S256"] : [],
        revocation_endpoint: filled(ctx, auth.revocationUrl),
      } satisfies oidc.ServerMetadata;
    },
    identity: (ctx, _config, response) => identityFromUrl(ctx, response.access_token),
    identityOf: (ctx, _config, tokens) => identityFromUrl(ctx, tokens.accessToken),
  });
}
