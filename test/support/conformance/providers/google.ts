/**
 * A fake Google (OpenID Connect, https://developers.google.com/identity/openid-connect/openid-connect;
 * https://developers.google.com/identity/protocols/oauth2/web-server):
 *
 * - discovery at `accounts.google.com/.well-known/openid-configuration`
 *   (issuer `https://accounts.google.com`); the token endpoint takes the
 *   client secret in the body or Basic; `/revoke` takes `token` without client
 *   authentication;
 * - a refresh token only with `access_type=offline`; a refresh answers no new
 *   refresh token (it does not rotate) but a new ID token;
 * - `{ access_token, token_type: "Bearer", expires_in: 3599, scope, id_token }`;
 * - the ID token: `sub` (a numeric string, the stable id), `email` and
 *   `email_verified` with the `email` scope, `name` with the `profile` scope;
 *   userinfo answers the same for the scopes granted;
 * - errors `{ error, error_description }`; a refused API token is 401
 *   `{ error: { code: 401, status: "UNAUTHENTICATED" } }`.
 */
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

export interface GoogleUser extends FakeUser {
  /** The `sub`: up to 21 digits. */
  id: string;
  email: string;
  name: string;
}

export const googleUser = (n = 1): GoogleUser => ({ id: `10769150350006150715${n}`, email: `user${n}@gmail.example`, name: `Google User ${n}` });

/** The claims the granted scopes allow. */
function claimsFor(user: GoogleUser, scopes: string[]): Record<string, unknown> {
  return {
    sub: user.id,
    ...(scopes.includes("email") ? { email: user.email, email_verified: true } : {}),
    ...(scopes.includes("profile") ? { name: user.name, given_name: "Google", family_name: `User`, picture: "https://lh3.googleusercontent.example/a/x" } : {}),
  };
}

export function googleProfile(): FakeProviderProfile {
  const clientId = "123456789012-abcdefghijklmnopqrstuvwxyz012345.apps.googleusercontent.com";
  return {
    name: "Google",
    paths: { authorize: "/o/oauth2/v2/auth", token: "/token", jwks: "/oauth2/v3/certs", discovery: "/.well-known/openid-configuration" },
    client: { id: clientId, secret: "GOCSPX-0123456789abcdefghij" },
    clientAuth: "either",
    refreshTokenFor: (params) => params.get("access_type") === "offline",
    refreshRotates: false,
    accessTokenLifetimeSeconds: 3599,
    async tokenResponse(issued) {
      const scopes = issued.scope.split(" ");
      const response: Record<string, unknown> = { token_type: "Bearer", expires_in: 3599, scope: issued.scope };
      if (scopes.includes("openid")) {
        response.id_token = await issued.signIdToken({
          iss: issued.origin,
          azp: issued.clientId,
          aud: issued.clientId,
          ...claimsFor(issued.user as GoogleUser, scopes),
          ...(issued.nonce && issued.grant === "authorization_code" ? { nonce: issued.nonce } : {}),
        });
      }
      return response;
    },
    discovery: (origin) => ({
      issuer: origin,
      authorization_endpoint: `${origin}/o/oauth2/v2/auth`,
      token_endpoint: `${origin}/token`,
      userinfo_endpoint: `${origin}/v1/userinfo`,
      revocation_endpoint: `${origin}/revoke`,
      jwks_uri: `${origin}/oauth2/v3/certs`,
      response_types_supported: ["code", "token", "id_token", "code token", "code id_token", "token id_token", "code token id_token", "none"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["RS256"],
      scopes_supported: ["openid", "email", "profile"],
      token_endpoint_auth_methods_supported: ["client_secret_post", "client_secret_basic"],
      code_challenge_methods_supported: ["plain", "S256"],
      grant_types_supported: [
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
      ],
    }),
    resources: {
      // What `openid email` allows, which every shipped Google scope asks for (the fake does not look up a token's scopes here).
      "GET /v1/userinfo": (user) => ({ body: claimsFor(user as GoogleUser, ["email"]) }),
    },
    unauthorized: () => ({
      status: 401,
      body: { error: { code: 401, message: "Request had invalid authentication credentials.", status: "UNAUTHENTICATED" } },
    }),
    apiPrefixes: ["/drive/v3/", "/calendar/v3/", "/gmail/v1/"],
    revocation: { method: "POST", path: "/revoke", authenticated: false, tokenOf: (request) => request.form?.get("token") ?? undefined },
  };
}
