/**
 * A fake GitHub (https://docs.github.com/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps,
 * https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens):
 *
 * - `github.com/login/oauth/authorize` and `/login/oauth/access_token`
 *   (client id and secret in the body);
 * - an OAuth app's token never expires: no `expires_in`, no refresh token;
 *   a GitHub App's user token (`githubApp: true`) lives 8 hours, with a
 *   refresh token of 6 months that rotates;
 * - a failed token request is HTTP 200 with `{ error, error_description, error_uri }`;
 * - `api.github.com/user`: `id` (a number), `login`, `name`, and `email`,
 *   which is null unless the user made it public; `/user/emails` (scope
 *   `user:email`) lists every address with `primary` and `verified`;
 * - no RFC 7009 endpoint: `DELETE api.github.com/applications/{client_id}/grant`
 *   with HTTP Basic client authentication and `{ "access_token": … }` ends
 *   the grant (https://docs.github.com/rest/apps/oauth-applications#delete-an-app-authorization), 204.
 */
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

export interface GitHubUser extends FakeUser {
  login: string;
  name: string;
  /** The public email: what /user shows. */
  email: string | null;
  /** Every address, as /user/emails lists them. */
  emails: { email: string; primary: boolean; verified: boolean; visibility: "public" | "private" | null }[];
}

export const gitHubUser = (n = 1): GitHubUser => ({
  id: String(580 + n),
  login: `octo${n}`,
  name: `Octo ${n}`,
  email: null,
  emails: [
    { email: `octo${n}@old.example`, primary: false, verified: false, visibility: null },
    { email: `octo${n}@example.com`, primary: true, verified: true, visibility: "private" },
  ],
});

export function gitHubProfile(options: { githubApp?: boolean } = {}): FakeProviderProfile {
  const clientId = "Iv1.0123456789abcdef";
  return {
    name: "GitHub",
    paths: { authorize: "/login/oauth/authorize", token: "/login/oauth/access_token" },
    client: { id: clientId, secret: "github-client-secret-0123456789abcdef" },
    clientAuth: "client_secret_post",
    issueRefreshTokens: options.githubApp ?? false,
    refreshRotates: true,
    accessTokenLifetimeSeconds: options.githubApp ? 28_800 : 10 * 365 * 86_400,
    tokenResponse: (issued) => ({
      token_type: "bearer",
      scope: issued.scope.split(" ").join(","),
      ...(options.githubApp ? { expires_in: 28_800, refresh_token_expires_in: 15_811_200 } : {}),
    }),
    tokenError: (error, description) => ({
      status: 200,
      body: {
        error,
        error_description: description,
        error_uri: "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors",
      },
    }),
    resources: {
      "GET /user": (user) => {
        const u = user as GitHubUser;
        return { body: { id: Number(u.id), login: u.login, name: u.name, email: u.email } };
      },
      "GET /user/emails": (user) => ({ body: (user as GitHubUser).emails }),
    },
    unauthorized: () => ({ status: 401, body: { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" } }),
    apiPrefixes: ["/repos/", "/user/"],
    revocation: {
      method: "DELETE",
      path: `/applications/${clientId}/grant`,
      clientAuth: "client_secret_basic",
      status: 204,
      tokenOf: (request) => {
        if (!(request.headers["content-type"] ?? "").includes("application/json")) return undefined;
        const body = JSON.parse(request.body) as { access_token?: unknown };
        return typeof body.access_token === "string" ? body.access_token : undefined;
      },
    },
  };
}
