/**
 * `oauth2`: a plain OAuth 2.0 upstream (GitHub and the like). The endpoints
 * come from the connector file; who connected comes from `identity.url`.
 * Where the upstream sends `iss` with its authorization response (RFC 9207),
 * it must be the file's `auth.issuer`, or the authorization URL's origin.
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
        // The issuer identifier the file gives (RFC 8414), else the authorization server's origin:
        // an `iss` in the authorization response is compared with it (RFC 9207).
        issuer: filled(ctx, auth.issuer) ?? new URL(authorizationEndpoint).origin,
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
