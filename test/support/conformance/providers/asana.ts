/**
 * A fake Asana (https://developers.asana.com/docs/oauth,
 * https://developers.asana.com/reference/getuser):
 *
 * - `app.asana.com/-/oauth_authorize`, `/-/oauth_token` with the client id
 *   and secret in the body; `/-/oauth_revoke` (client id and secret, `token`);
 * - `{ access_token, token_type: "bearer", expires_in: 3600, refresh_token,
 *   data: { id, gid, name, email } }`; a refresh answers no new refresh token
 *   (the old one stays valid);
 * - every API answer wrapped in `data`: `GET /api/1.0/users/me` →
 *   `{ data: { gid, email, name, resource_type: "user", workspaces } }`;
 * - a refused token is 401 `{ errors: [{ message: "Not Authorized" }] }`.
 */
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

export interface AsanaUser extends FakeUser {
  /** The gid, a numeric string. */
  id: string;
  name: string;
  email: string;
}

export const asanaUser = (n = 1): AsanaUser => ({ id: `120145678901234${n}`, name: `Asana User ${n}`, email: `asana${n}@acme.example` });

export function asanaProfile(): FakeProviderProfile {
  return {
    name: "Asana",
    paths: { authorize: "/-/oauth_authorize", token: "/-/oauth_token" },
    client: { id: "1201234567890123", secret: "asana-client-secret-0123456789" },
    clientAuth: "client_secret_post",
    refreshRotates: false,
    accessTokenLifetimeSeconds: 3600,
    tokenResponse: (issued) => {
      const u = issued.user as AsanaUser;
      return { token_type: "bearer", expires_in: 3600, data: { id: Number(u.id), gid: u.id, name: u.name, email: u.email } };
    },
    resources: {
      "GET /api/1.0/users/me": (user) => {
        const u = user as AsanaUser;
        return { body: { data: { gid: u.id, email: u.email, name: u.name, resource_type: "user", workspaces: [{ gid: "1", name: "Acme" }] } } };
      },
    },
    unauthorized: () => ({ status: 401, body: { errors: [{ message: "Not Authorized", help: "For more information on API status codes…" }] } }),
    apiPrefixes: ["/api/1.0/tasks", "/api/1.0/projects", "/api/1.0/workspaces"],
    revocation: { method: "POST", path: "/-/oauth_revoke", tokenOf: (request) => request.form?.get("token") ?? undefined },
  };
}
