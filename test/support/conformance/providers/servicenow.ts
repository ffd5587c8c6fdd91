/**
 * A fake ServiceNow instance, from ServiceNow's documentation (Platform
 * security → OAuth; https://www.servicenow.com/docs, "Revoke an OAuth token"):
 *
 * - `/oauth_auth.do` and `/oauth_token.do`; the client id and secret in the
 *   body; refresh tokens that do not rotate (the old one stays valid);
 * - `expires_in` 1799 (access tokens live 30 minutes by default);
 * - `/oauth_revoke_token.do` with `token`: "This endpoint access does not
 *   require authentication. The token in this request is marked as
 *   expired." — an access or a refresh token, one at a time; the fake reads
 *   the parameter from the query (as the docs' example) or the form body
 *   (as a `.do` processor reads request parameters);
 * - the Table API under `/api/now/`, scripted REST APIs of scoped apps
 *   under `/api/<scope>/`; the signed-in user's `sys_user` record.
 */
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

export interface ServiceNowUser extends FakeUser {
  sysId: string;
  userName: string;
  email: string;
  name: string;
}

export function serviceNowUser(n = 1): ServiceNowUser {
  return {
    id: `6816f79cc0a8016401c5a33be04be44${n}`,
    sysId: `6816f79cc0a8016401c5a33be04be44${n}`,
    userName: `abel.tuter${n}`,
    email: `abel${n}@acme.example`,
    name: `Abel Tuter ${n}`,
  };
}

export function serviceNowProfile(): FakeProviderProfile {
  return {
    name: "ServiceNow",
    paths: { authorize: "/oauth_auth.do", token: "/oauth_token.do" },
    client: { id: "ac0dd3408c1031006907010c2cc6ef6d", secret: "servicenow-client-secret" },
    clientAuth: "client_secret_post",
    refreshRotates: false,
    accessTokenLifetimeSeconds: 1799,
    tokenResponse: (issued) => ({ token_type: "Bearer", scope: issued.scope, expires_in: 1799 }),
    resources: {
      "GET /api/now/table/sys_user": (user) => {
        const u = user as ServiceNowUser;
        return { body: { result: [{ sys_id: u.sysId, user_name: u.userName, email: u.email, name: u.name }] } };
      },
    },
    unauthorized: () => ({
      status: 401,
      body: { error: { message: "User Not Authenticated", detail: "Required to provide Auth information" }, status: "failure" },
    }),
    apiPrefixes: ["/api/now/", "/api/x_acme_app/"],
    revocation: {
      method: "POST",
      path: "/oauth_revoke_token.do",
      tokenOf: (request) => request.query.get("token") ?? request.form?.get("token") ?? undefined,
      authenticated: false,
    },
  };
}
