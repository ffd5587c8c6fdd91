/**
 * A fake Slack (OAuth v2, https://api.slack.com/authentication/oauth-v2;
 * token rotation, https://api.slack.com/authentication/rotation):
 *
 * - `slack.com/oauth/v2/authorize` (bot scopes in `scope`, comma-separated),
 *   `slack.com/api/oauth.v2.access` (client id and secret in the body or Basic);
 * - the answer: `{ ok: true, access_token: "xoxb-…", token_type: "bot", scope,
 *   bot_user_id, app_id, team: { id, name }, enterprise: null, authed_user: { id } }`;
 *   with token rotation on, `expires_in: 43200` and a `refresh_token`, refreshed
 *   at the same endpoint (a new refresh token each time);
 * - errors are HTTP 200 `{ ok: false, error }`;
 * - `auth.test` answers `{ ok, url, team, user, team_id, user_id, bot_id }`;
 *   a refused token is HTTP 200 `{ ok: false, error: "invalid_auth" }`;
 * - `auth.revoke` takes the token itself (form `token`), answers `{ ok, revoked }`.
 */
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

export interface SlackWorkspace extends FakeUser {
  /** The team id: what a bot token's account is. */
  id: string;
  team: string;
  installer: string;
}

export const slackWorkspace = (n = 1): SlackWorkspace => ({ id: `T0${n}ABCDEF`, team: `Acme ${n}`, installer: `U0${n}INSTALL` });

export function slackProfile(options: { rotation?: boolean } = {}): FakeProviderProfile {
  return {
    name: "Slack",
    paths: { authorize: "/oauth/v2/authorize", token: "/api/oauth.v2.access" },
    client: { id: "1234567890.0987654321", secret: "slack-client-secret-0123456789" },
    clientAuth: "either",
    issueRefreshTokens: options.rotation ?? false,
    refreshRotates: true,
    accessTokenLifetimeSeconds: options.rotation ? 43_200 : 10 * 365 * 86_400,
    tokenResponse: (issued) => {
      const team = issued.user as SlackWorkspace;
      return {
        ok: true,
        token_type: "bot",
        scope: issued.scope,
        bot_user_id: "U0BOT",
        app_id: "A0APP",
        team: { id: team.id, name: team.team },
        enterprise: null,
        is_enterprise_install: false,
        authed_user: { id: team.installer },
        ...(options.rotation ? { expires_in: 43_200 } : {}),
      };
    },
    tokenError: (error) => ({ status: 200, body: { ok: false, error } }),
    resources: {
      "GET /api/auth.test": (user) => {
        const team = user as SlackWorkspace;
        return { body: { ok: true, url: "https://acme.slack.com/", team: team.team, user: "app-bot", team_id: team.id, user_id: "U0BOT", bot_id: "B0BOT" } };
      },
    },
    unauthorized: () => ({ status: 200, body: { ok: false, error: "invalid_auth" } }),
    apiPrefixes: ["/api/conversations.", "/api/chat."],
    revocation: { method: "POST", path: "/api/auth.revoke", authenticated: false, tokenOf: (request) => request.form?.get("token") ?? undefined },
  };
}
