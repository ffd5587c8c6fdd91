/**
 * A fake Zoom (https://developers.zoom.us/docs/integrations/oauth/,
 * https://developers.zoom.us/docs/api/users/#tag/users/GET/users/{userId}):
 *
 * - `zoom.us/oauth/authorize`, `zoom.us/oauth/token` with HTTP Basic client
 *   authentication only;
 * - `{ access_token, token_type: "bearer", refresh_token, expires_in: 3599,
 *   scope, api_url }`; every refresh answers a new refresh token and the
 *   old one stops working;
 * - errors `{ reason, error }`, 400;
 * - `api.zoom.us/v2/users/me`: `id`, `email`, `display_name`, `first_name`,
 *   `last_name`; a refused token is 401 `{ code: 124, message: "Invalid access token." }`;
 * - `POST zoom.us/oauth/revoke?token=…` with HTTP Basic client authentication.
 */
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

export interface ZoomUser extends FakeUser {
  id: string;
  email: string;
  displayName: string;
}

export const zoomUser = (n = 1): ZoomUser => ({ id: `KDcuGIm1QgePTO8WbOqwI${n}`, email: `zoomer${n}@example.com`, displayName: `Zoom User ${n}` });

export function zoomProfile(): FakeProviderProfile {
  return {
    name: "Zoom",
    paths: { authorize: "/oauth/authorize", token: "/oauth/token" },
    client: { id: "zoomClientId01", secret: "zoomClientSecret0123456789" },
    clientAuth: "client_secret_basic",
    refreshRotates: true,
    accessTokenLifetimeSeconds: 3599,
    tokenResponse: (issued) => ({ token_type: "bearer", expires_in: 3599, scope: issued.scope, api_url: "https://api.zoom.us" }),
    tokenError: (error, description) => ({ status: error === "invalid_client" ? 401 : 400, body: { reason: description, error } }),
    resources: {
      "GET /v2/users/me": (user) => {
        const u = user as ZoomUser;
        return { body: { id: u.id, first_name: "Zoom", last_name: "User", display_name: u.displayName, email: u.email, type: 2, status: "active" } };
      },
    },
    unauthorized: () => ({ status: 401, body: { code: 124, message: "Invalid access token." } }),
    apiPrefixes: ["/v2/users/me/meetings", "/v2/meetings/"],
    revocation: { method: "POST", path: "/oauth/revoke", clientAuth: "client_secret_basic", tokenOf: (request) => request.query.get("token") ?? undefined },
  };
}
