/**
 * A fake GitLab server (https://docs.gitlab.com/api/oauth2/,
 * https://docs.gitlab.com/api/users/#get-the-current-user):
 *
 * - `/oauth/authorize` (PKCE), `/oauth/token` (client id and secret in the
 *   body or Basic), `/oauth/revoke` (RFC 7009, client authenticated);
 * - `{ access_token, token_type: "Bearer", expires_in: 7200, refresh_token,
 *   scope, created_at }`: access tokens live two hours; each refresh answers
 *   a new refresh token and the old one stops working;
 * - errors `{ error, error_description }`;
 * - `GET /api/v4/user`: `id` (a number), `username`, `name`, `email`; a
 *   refused token is 401 `{ message: "401 Unauthorized" }`; the API is under `/api/v4/`.
 */
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

export interface GitLabUser extends FakeUser {
  id: string;
  username: string;
  name: string;
  email: string;
}

export const gitLabUser = (n = 1): GitLabUser => ({ id: String(100 + n), username: `dev${n}`, name: `Developer ${n}`, email: `dev${n}@gitlab.example` });

export function gitLabProfile(): FakeProviderProfile {
  return {
    name: "GitLab",
    paths: { authorize: "/oauth/authorize", token: "/oauth/token" },
    client: { id: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", secret: "gloas-0123456789abcdef" },
    clientAuth: "either",
    refreshRotates: true,
    accessTokenLifetimeSeconds: 7200,
    tokenResponse: (issued) => ({ token_type: "Bearer", expires_in: 7200, scope: issued.scope, created_at: Math.floor(Date.now() / 1000) }),
    resources: {
      "GET /api/v4/user": (user) => {
        const u = user as GitLabUser;
        return { body: { id: Number(u.id), username: u.username, name: u.name, email: u.email, state: "active" } };
      },
    },
    unauthorized: () => ({ status: 401, body: { message: "401 Unauthorized" } }),
    apiPrefixes: ["/api/v4/projects"],
    revocation: { method: "POST", path: "/oauth/revoke", tokenOf: (request) => request.form?.get("token") ?? undefined },
  };
}
