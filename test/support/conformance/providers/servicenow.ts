/**
 * A fake ServiceNow instance (https://www.servicenow.com/docs — OAuth
 * authorization code grant; Table API):
 *
 * - `/oauth_auth.do`, `/oauth_token.do` with the client id and secret in the body;
 * - `{ access_token, refresh_token, scope: "useraccount", token_type: "Bearer",
 *   expires_in: 1799 }`: access tokens live 30 minutes by default; a refresh
 *   answers no new refresh token (the old one lives its 100 days);
 * - `GET /api/now/table/sys_user?sysparm_query=sys_id=javascript:gs.getUserID()…`:
 *   `{ result: [{ sys_id, user_name, email, name }] }`;
 * - a refused token is 401 `{ error: { message: "User Not Authenticated" }, status: "failure" }`.
 */
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

export interface ServiceNowUser extends FakeUser {
  /** The sys_id: 32 hex characters. */
  id: string;
  userName: string;
  email: string;
  name: string;
}

export const serviceNowUser = (n = 1): ServiceNowUser => ({
  id: `6816f79cc0a8016401c5a33be04be44${n}`,
  userName: `abel.tuter${n}`,
  email: `abel${n}@acme.example`,
  name: `Abel Tuter ${n}`,
});

export function serviceNowProfile(): FakeProviderProfile {
  return {
    name: "ServiceNow",
    paths: { authorize: "/oauth_auth.do", token: "/oauth_token.do" },
    client: { id: "ac0dd3408c1031006907010c2cc6ef6d", secret: "servicenow-secret-0123" },
    clientAuth: "client_secret_post",
    refreshRotates: false,
    accessTokenLifetimeSeconds: 1799,
    tokenResponse: () => ({ token_type: "Bearer", expires_in: 1799, scope: "useraccount" }),
    resources: {
      "GET /api/now/table/sys_user": (user, request) => {
        const u = user as ServiceNowUser;
        // Only the signed-in user's own record answers the file's query.
        if (request.query.get("sysparm_query") !== "sys_id=javascript:gs.getUserID()") return { body: { result: [] } };
        return { body: { result: [{ sys_id: u.id, user_name: u.userName, email: u.email, name: u.name }] } };
      },
    },
    unauthorized: () => ({
      status: 401,
      body: { error: { message: "User Not Authenticated", detail: "Required to provide Auth information" }, status: "failure" },
    }),
    apiPrefixes: ["/api/now/table/incident"],
  };
}
