/**
 * A fake Atlassian (OAuth 2.0 3LO, https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/):
 *
 * - `auth.atlassian.com/authorize` (with `audience=api.atlassian.com`) and
 *   `/oauth/token` (client id and secret in the body); `expires_in` 3600;
 *   a refresh token only with `offline_access`, rotating on every refresh;
 * - errors `{ error, error_description }`, 403 for invalid_grant as Atlassian answers it;
 * - `api.atlassian.com/oauth/token/accessible-resources`: the sites the
 *   token may reach, `[{ id, url, name, scopes, avatarUrl }]`;
 * - `api.atlassian.com/me`: `account_id`, `email`, `name`;
 * - the Jira API at `api.atlassian.com/ex/jira/<cloud id>/rest/…`, Confluence's
 *   at `/ex/confluence/<cloud id>/wiki/…`.
 */
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

export interface AtlassianUser extends FakeUser {
  email: string;
  name: string;
  /** The sites the user granted, as accessible-resources lists them. */
  sites: { id: string; url: string; name: string }[];
}

export function atlassianUser(n = 1): AtlassianUser {
  return {
    id: `5b10ac8d82e05b22cc7d4e${String(n).padStart(2, "0")}`,
    email: `user${n}@acme.example`,
    name: `Jira User ${n}`,
    sites: [{ id: `11223344-a1b2-3b33-c444-def0000000${String(n).padStart(2, "0")}`, url: "https://acme.atlassian.net", name: "acme" }],
  };
}

export function atlassianProfile(): FakeProviderProfile {
  return {
    name: "Atlassian",
    paths: { authorize: "/authorize", token: "/oauth/token" },
    client: { id: "Zx9Atlassian3LOclientId0123", secret: "atlassian-client-secret-0123456789" },
    clientAuth: "client_secret_post",
    refreshTokenScopes: ["offline_access"],
    refreshRotates: true,
    accessTokenLifetimeSeconds: 3600,
    tokenResponse: (issued) => ({ token_type: "Bearer", scope: issued.scope, expires_in: 3600 }),
    tokenError: (error, description) => ({
      status: error === "invalid_grant" ? 403 : error === "invalid_client" ? 401 : 400,
      body: { error, error_description: description },
    }),
    resources: {
      "GET /oauth/token/accessible-resources": (user) => ({
        body: (user as AtlassianUser).sites.map((site) => ({
          ...site,
          scopes: ["read:jira-work", "read:jira-user"],
          avatarUrl: "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png",
        })),
      }),
      "GET /me": (user) => {
        const u = user as AtlassianUser;
        return { body: { account_type: "atlassian", account_id: u.id, email: u.email, name: u.name, account_status: "active" } };
      },
    },
    unauthorized: () => ({ status: 401, body: { code: 401, message: "Unauthorized; scope does not match" } }),
    apiPrefixes: ["/ex/jira/", "/ex/confluence/"],
  };
}
