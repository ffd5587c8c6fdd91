/**
 * A fake HubSpot (https://developers.hubspot.com/docs/api/oauth-quickstart-guide,
 * https://developers.hubspot.com/docs/api/settings/account-information-api):
 *
 * - `app.hubspot.com/oauth/authorize`, `api.hubapi.com/oauth/v1/token` with
 *   the client id and secret in the form body only;
 * - `{ token_type: "bearer", refresh_token, access_token, expires_in: 1800 }`;
 *   a refresh answers the SAME refresh token again (it does not rotate);
 * - errors `{ status: "BAD_AUTH_CODE", message, correlationId }`, 400;
 * - `GET /account-info/v3/details`: `{ portalId, accountType, uiDomain, … }`
 *   (the portal, not the user); `GET /oauth/v1/access-tokens/{token}`: `user`,
 *   `user_id`, `hub_id`, `hub_domain` (the token in the path);
 * - the CRM API under `/crm/v3/`; a refused token is 401
 *   `{ status: "error", category: "EXPIRED_AUTHENTICATION" }`;
 * - `DELETE /oauth/v1/refresh-tokens/{token}` revokes the refresh token (and its grant), 204.
 */
import { bearerToken, tokenInPath, type FakeProviderProfile, type FakeUser } from "../fake-provider.js";

export interface HubSpotPortal extends FakeUser {
  /** The portal (hub) id, a number as text. */
  id: string;
  uiDomain: string;
  /** The installing user's email (`user` at /oauth/v1/access-tokens/{token}). */
  email: string;
}

export const hubSpotPortal = (n = 1): HubSpotPortal => ({ id: String(62_515 + n), uiDomain: "app.hubspot.com", email: `owner${n}@acme.example` });

const ACCESS_TOKEN_PATH = "/oauth/v1/access-tokens/{token}";
const REFRESH_TOKEN_PATH = "/oauth/v1/refresh-tokens/{token}";

const STATUS: Record<string, string> = { invalid_grant: "BAD_AUTH_CODE", invalid_client: "BAD_CLIENT_ID" };

export function hubSpotProfile(): FakeProviderProfile {
  return {
    name: "HubSpot",
    paths: { authorize: "/oauth/authorize", token: "/oauth/v1/token" },
    client: { id: "5fd4e3b2-0000-4000-8000-hubspotclient", secret: "hubspot-client-secret-0123" },
    clientAuth: "client_secret_post",
    refreshRotates: false,
    accessTokenLifetimeSeconds: 1800,
    tokenResponse: (issued) => ({
      token_type: "bearer",
      expires_in: 1800,
      // HubSpot answers the refresh token it was given: it does not rotate.
      ...(issued.presentedRefreshToken ? { refresh_token: issued.presentedRefreshToken } : {}),
    }),
    tokenError: (error, description) => ({
      status: 400,
      body: { status: STATUS[error] ?? "BAD_REQUEST", message: description, correlationId: "c0ffee00-0000-4000-8000-000000000000" },
    }),
    resources: {
      // The token in the path is what this endpoint reads (accessTokenOf below).
      [`GET ${ACCESS_TOKEN_PATH}`]: (user, request) => ({
        body: {
          token: tokenInPath(ACCESS_TOKEN_PATH, request.path),
          user: (user as HubSpotPortal).email,
          hub_domain: "acme-dev.hubspot.com",
          scopes: ["oauth", "crm.objects.contacts.read"],
          hub_id: Number(user.id),
          app_id: 456,
          expires_in: 1754,
          user_id: 123,
          token_type: "access",
        },
      }),
      "GET /account-info/v3/details": (user) => ({
        body: {
          portalId: Number(user.id),
          accountType: "STANDARD",
          timeZone: "US/Eastern",
          companyCurrency: "USD",
          uiDomain: (user as HubSpotPortal).uiDomain,
        },
      }),
    },
    unauthorized: () => ({
      status: 401,
      body: { status: "error", message: "Authentication credentials not found.", category: "EXPIRED_AUTHENTICATION", correlationId: "c0ffee00" },
    }),
    apiPrefixes: ["/crm/v3/"],
    accessTokenOf: (request) => (request.path.startsWith("/oauth/v1/access-tokens/") ? tokenInPath(ACCESS_TOKEN_PATH, request.path) : bearerToken(request)),
    revocation: {
      method: "DELETE",
      path: REFRESH_TOKEN_PATH,
      authenticated: false,
      status: 204,
      tokenOf: (request) => tokenInPath(REFRESH_TOKEN_PATH, request.path),
    },
  };
}
