/**
 * A fake Box for user authentication (OAuth 2.0, https://developer.box.com/guides/authentication/oauth2/without-sdk/,
 * https://developer.box.com/reference/post-oauth2-token/):
 *
 * - `account.box.com/api/oauth2/authorize`, `api.box.com/oauth2/token` with
 *   the client id and secret in the body only; `/oauth2/revoke` likewise;
 * - `{ access_token, expires_in: 3600, issued_token_type, refresh_token,
 *   restricted_to: [], token_type: "bearer" }`; refresh tokens are single use:
 *   each refresh answers a new one and the old one stops working;
 * - `GET /2.0/users/me`: `id` (a numeric string), `login`, `name`;
 * - a refused API token is 401 with an empty body and `WWW-Authenticate`.
 */
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

export interface BoxUser extends FakeUser {
  id: string;
  login: string;
  name: string;
}

export const boxUser = (n = 1): BoxUser => ({ id: String(11_446_498 + n), login: `boxer${n}@acme.example`, name: `Box User ${n}` });

export function boxProfile(): FakeProviderProfile {
  return {
    name: "Box",
    paths: { authorize: "/api/oauth2/authorize", token: "/oauth2/token" },
    client: { id: "ly1nj6n11vionaie65emwzk575hnnmrk", secret: "hOzsTeFlT6ko0dme22uGbQal04SBPYc1" },
    clientAuth: "client_secret_post",
    refreshRotates: true,
    accessTokenLifetimeSeconds: 3600,
    tokenResponse: () => ({ token_type: "bearer", expires_in: 3600, issued_token_type: "urn:ietf:params:oauth:token-type:access_token", restricted_to: [] }),
    resources: {
      "GET /2.0/users/me": (user) => {
        const u = user as BoxUser;
        return { body: { type: "user", id: u.id, login: u.login, name: u.name, status: "active" } };
      },
    },
    unauthorized: () => ({ status: 401, headers: { "www-authenticate": 'Bearer realm="Service", error="invalid_token"' }, body: "" }),
    apiPrefixes: ["/2.0/folders/", "/2.0/files/"],
    revocation: { method: "POST", path: "/oauth2/revoke", clientAuth: "client_secret_post", tokenOf: (request) => request.form?.get("token") ?? undefined },
  };
}
