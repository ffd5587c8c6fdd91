/**
 * A fake Linear (https://linear.app/developers/oauth-2-0-authentication,
 * https://linear.app/developers/graphql):
 *
 * - `linear.app/oauth/authorize`, `api.linear.app/oauth/token` with the
 *   client id and secret in the body; scopes comma-separated;
 * - `{ access_token, token_type: "Bearer", expires_in: 86399, scope, refresh_token }`
 *   (apps with refresh tokens); refresh tokens rotate;
 * - the API is GraphQL, `POST /graphql` with a JSON body `{ query }`:
 *   `{ viewer { id name email } }` → `{ data: { viewer: { id, name, email } } }`;
 *   a GET is refused (400), the way the fake reads Linear's documentation, which documents only POST;
 * - a refused token is 401 `{ errors: [{ message: "Authentication required", extensions: { code: "AUTHENTICATION_ERROR" } }] }`;
 * - `POST /oauth/revoke` with the token as bearer revokes it (and its grant).
 */
import { bearerToken, type FakeProviderProfile, type FakeUser } from "../fake-provider.js";

export interface LinearUser extends FakeUser {
  id: string;
  name: string;
  email: string;
}

export const linearUser = (n = 1): LinearUser => ({ id: `2f4d7a0e-0000-4000-8000-00000000000${n}`, name: `Lin ${n}`, email: `lin${n}@acme.example` });

export function linearProfile(): FakeProviderProfile {
  return {
    name: "Linear",
    paths: { authorize: "/oauth/authorize", token: "/oauth/token" },
    client: { id: "linearclientid0123", secret: "linearclientsecret0123" },
    clientAuth: "client_secret_post",
    refreshRotates: true,
    accessTokenLifetimeSeconds: 86_399,
    tokenResponse: (issued) => ({ token_type: "Bearer", expires_in: 86_399, scope: issued.scope.split(",") }),
    resources: {
      "POST /graphql": (user, request) => {
        const u = user as LinearUser;
        const query = (JSON.parse(request.body || "{}") as { query?: string }).query ?? "";
        if (!/viewer/.test(query)) return { body: { data: {}, echo: query } };
        return { body: { data: { viewer: { id: u.id, name: u.name, email: u.email } } } };
      },
      "GET /graphql": () => ({ status: 400, body: { errors: [{ message: "GET requests are not supported: POST a JSON body" }] } }),
    },
    unauthorized: () => ({ status: 401, body: { errors: [{ message: "Authentication required", extensions: { code: "AUTHENTICATION_ERROR" } }] } }),
    revocation: { method: "POST", path: "/oauth/revoke", authenticated: false, tokenOf: bearerToken },
  };
}
