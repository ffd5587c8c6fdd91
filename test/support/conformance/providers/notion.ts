/**
 * A fake Notion (https://developers.notion.com/docs/authorization,
 * https://developers.notion.com/reference/get-self):
 *
 * - `api.notion.com/v1/oauth/authorize` (needs `owner=user`), `/v1/oauth/token`
 *   with HTTP Basic client authentication only;
 * - the token response: `{ access_token, token_type: "bearer", bot_id,
 *   workspace_id, workspace_name, workspace_icon, owner: { type: "user", user },
 *   duplicated_template_id, refresh_token }`: no `expires_in`; a refresh
 *   (grant_type=refresh_token, https://developers.notion.com/reference/refresh-a-token)
 *   answers a new access token and a new refresh token, and the old one stops working;
 * - every API call without `Notion-Version` is 400 `missing_version`;
 * - `GET /v1/users/me`: the bot user, `{ object: "user", id: <bot id>, type: "bot",
 *   bot: { owner: { type: "user", user: { id, name, person: { email } } }, workspace_name } }`;
 * - a refused token is 401 `{ object: "error", status: 401, code: "unauthorized" }`.
 */
import type { FakeProviderProfile, FakeUser, RecordedRequest } from "../fake-provider.js";

export interface NotionConnection extends FakeUser {
  /** The bot id: one per workspace authorization. */
  id: string;
  workspace: string;
  userId: string;
  name: string;
  email: string;
}

export const notionConnection = (n = 1, person = 1): NotionConnection => ({
  id: `b0t${n}0000-0000-4000-8000-00000000000${n}`,
  workspace: `Workspace ${n}`,
  userId: `5389a034-eb5c-47b5-8a9e-f79c99ef16${String(person).padStart(2, "0")}`,
  name: `Christine ${person}`,
  email: `christine${person}@example.com`,
});

const missingVersion = (request: RecordedRequest) =>
  request.headers["notion-version"]
    ? undefined
    : { status: 400, body: { object: "error", status: 400, code: "missing_version", message: "Notion-Version header failed validation" } };

export function notionProfile(): FakeProviderProfile {
  return {
    name: "Notion",
    paths: { authorize: "/v1/oauth/authorize", token: "/v1/oauth/token" },
    client: { id: "1a2b3c4d-0000-4000-8000-notionclient", secret: "secret_notion0123456789" },
    clientAuth: "client_secret_basic",
    refreshRotates: true,
    accessTokenLifetimeSeconds: 10 * 365 * 86_400,
    tokenResponse: (issued) => {
      const c = issued.user as NotionConnection;
      return {
        token_type: "bearer",
        bot_id: c.id,
        workspace_id: `ws-${c.id}`,
        workspace_name: c.workspace,
        workspace_icon: null,
        owner: { type: "user", user: { object: "user", id: c.userId, name: c.name, type: "person", person: { email: c.email } } },
        duplicated_template_id: null,
      };
    },
    resources: {
      "GET /v1/users/me": (user, request) => {
        const c = user as NotionConnection;
        return (
          missingVersion(request) ?? {
            body: {
              object: "user",
              id: c.id,
              name: "Broker integration",
              avatar_url: null,
              type: "bot",
              bot: {
                owner: { type: "user", user: { object: "user", id: c.userId, name: c.name, avatar_url: null, type: "person", person: { email: c.email } } },
                workspace_name: c.workspace,
              },
            },
          }
        );
      },
    },
    unauthorized: () => ({ status: 401, body: { object: "error", status: 401, code: "unauthorized", message: "API token is invalid." } }),
    apiPrefixes: ["/v1/search", "/v1/pages/", "/v1/databases/", "/v1/blocks/"],
  };
}
