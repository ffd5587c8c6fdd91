/**
 * A fake Reddit (https://github.com/reddit-archive/reddit/wiki/OAuth2),
 * for a web app:
 *
 * - `www.reddit.com/api/v1/authorize`, `/api/v1/access_token` with HTTP
 *   Basic client authentication only; `/api/v1/revoke_token` (Basic, form `token`);
 * - a refresh token only with `duration=permanent`;
 * - `expires_in` of one day; a refresh answers no new refresh token;
 * - requests with a generic User-Agent are refused (429), as Reddit
 *   throttles them;
 * - `oauth.reddit.com/api/v1/me`: `id` (base 36), `name`; no email.
 */
import type { FakeProviderProfile, FakeUser, RecordedRequest } from "../fake-provider.js";

export interface RedditUser extends FakeUser {
  name: string;
}

export const redditUser = (n = 1): RedditUser => ({ id: `t2a${n}b${n}`, name: `redditor_${n}` });

/** What Reddit throttles: no User-Agent, or a library's default. */
function genericUserAgent(request: RecordedRequest): boolean {
  const agent = request.headers["user-agent"] ?? "";
  return agent === "" || /^(authbroker|node|undici|python-requests|curl)\b/i.test(agent);
}

export function redditProfile(): FakeProviderProfile {
  return {
    name: "Reddit",
    paths: { authorize: "/api/v1/authorize", token: "/api/v1/access_token" },
    client: { id: "reddit-web-app-id", secret: "reddit-web-app-secret" },
    clientAuth: "client_secret_basic",
    refreshRotates: false,
    refreshTokenFor: (params) => params.get("duration") === "permanent",
    accessTokenLifetimeSeconds: 86_400,
    tokenResponse: (issued) => ({ token_type: "bearer", expires_in: 86_400, scope: issued.scope }),
    resources: {
      "GET /api/v1/me": (user, request) =>
        genericUserAgent(request)
          ? { status: 429, body: { message: "Too Many Requests", error: 429 } }
          : { body: { id: user.id, name: (user as RedditUser).name } },
    },
    unauthorized: () => ({ status: 401, body: { message: "Unauthorized", error: 401 } }),
    apiPrefixes: ["/r/", "/api/"],
    revocation: { method: "POST", path: "/api/v1/revoke_token", tokenOf: (request) => request.form?.get("token") ?? undefined, status: 204 },
  };
}
