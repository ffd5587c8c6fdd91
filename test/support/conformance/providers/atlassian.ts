/**
 * A fake Atlassian identity (OAuth 2.0 3LO, https://developer.atlassian.com/cloud/confluence/oauth-2-3lo-apps/):
 *
 * - `auth.atlassian.com/authorize` (with `audience=api.atlassian.com`),
 *   `auth.atlassian.com/oauth/token` with the client id and secret in the body;
 * - a refresh token only with `offline_access`; refresh tokens rotate (the
 *   old one stops working);
 * - `{ access_token, token_type: "Bearer", expires_in: 3600, scope, refresh_token }`;
 * - errors `{ error, error_description }`, 403 for invalid_grant as Atlassian answers it;
 * - `api.atlassian.com/me`: `account_id`, `email`, `name`;
 *   `/oauth/token/accessible-resources`: the sites, `[{ id: <cloudId>, url, name, scopes }]`;
 * - the Confluence API under `/ex/confluence/{cloudId}/`.
 */
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

export interface AtlassianUser extends FakeUser {
  /** The Atlassian account id. */
  id: string;
  email: string;
  name: string;
  cloudId: string;
}

export const atlassianUser = (n = 1): AtlassianUser => ({
  id: `5b10a2844c20165700ede2${n}`,
  email: `atlas${n}@acme.example`,
  name: `Atlas User ${n}`,
  cloudId: `1324a887-45db-1bf4-1e99-ef0ff456d42${n}`,
});

export function atlassianProfile(): FakeProviderProfile {
  return {
    name: "Atlassian",
    paths: { authorize: "/authorize", token: "/oauth/token" },
    client: { id: "AtlassianClientId0123", secret: "atlassian-client-secret-0123" },
    clientAuth: "client_secret_post",
    refreshTokenScopes: ["offline_access"],
    refreshRotates: true,
    accessTokenLifetimeSeconds: 3600,
    tokenResponse: (issued) => ({ token_type: "Bearer", expires_in: 3600, scope: issued.scope }),
    tokenError: (error, description) => ({
      status: error === "invalid_grant" ? 403 : error === "invalid_client" ? 401 : 400,
      body: { error, error_description: description },
    }),
    resources: {
      "GET /me": (user) => {
        const u = user as AtlassianUser;
        return { body: { account_id: u.id, email: u.email, name: u.name, account_type: "atlassian", account_status: "active" } };
      },
      "GET /oauth/token/accessible-resources": (user) => ({
        body: [{ id: (user as AtlassianUser).cloudId, url: "https://acme.atlassian.net", name: "acme", scopes: ["read:confluence-content.all"] }],
      }),
    },
    unauthorized: () => ({ status: 401, body: { code: 401, message: "Unauthorized" } }),
    apiPrefixes: ["/ex/confluence/"],
  };
}
