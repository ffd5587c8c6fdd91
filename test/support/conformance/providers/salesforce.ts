/**
 * A fake Salesforce org at its My Domain, from Salesforce's documentation
 * (OAuth 2.0 web server flow, https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm):
 *
 * - `/services/oauth2/authorize`, `/services/oauth2/token` (client secret in
 *   the body or Basic), `/services/oauth2/revoke` (RFC 7009 form, `token`);
 * - the token response has NO `expires_in` (the session lives as the org's
 *   session timeout says, 15 minutes to 24 hours) but `instance_url`, `id`,
 *   `issued_at` and `signature`; with `openid`, an ID token whose `iss` is
 *   `https://login.salesforce.com` (`https://test.salesforce.com` for
 *   sandboxes), not the My Domain;
 * - a refresh token only with the `refresh_token` scope; a refresh answers
 *   no new refresh token (the old one stays valid);
 * - errors `{ error, error_description }` with 400;
 * - `/services/oauth2/userinfo`: `user_id`, `email`, `email_verified`, `name`;
 * - the API under `/services/` (`/services/data/vXX.X/…`, `/services/apexrest/…`);
 *   a refused session is 401 `[{ message, errorCode: "INVALID_SESSION_ID" }]`.
 */
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

export interface SalesforceUser extends FakeUser {
  /** The 18-character user id. */
  id: string;
  orgId: string;
  email: string;
  name: string;
}

export function salesforceUser(n = 1): SalesforceUser {
  return { id: `005Hs00000Abc${String(n).padStart(5, "0")}`, orgId: "00DHs000000Xyz1AAA", email: `user${n}@acme.example`, name: `Sales User ${n}` };
}

export function salesforceProfile(options: { loginHost?: string; instanceUrl?: string } = {}): FakeProviderProfile {
  const loginIssuer = `https://${options.loginHost ?? "login.salesforce.com"}`;
  return {
    name: "Salesforce",
    paths: { authorize: "/services/oauth2/authorize", token: "/services/oauth2/token" },
    client: { id: "3MVG9.consumer.key", secret: "salesforce-consumer-secret-0123" },
    clientAuth: "either",
    refreshTokenScopes: ["refresh_token"],
    refreshRotates: false,
    accessTokenLifetimeSeconds: 2 * 3600,
    async tokenResponse(issued) {
      const user = issued.user as SalesforceUser;
      const response: Record<string, unknown> = {
        token_type: "Bearer",
        scope: issued.scope,
        // The org's API host: its My Domain (here the fake itself), unless the test names another server.
        instance_url: options.instanceUrl ?? issued.origin,
        id: `${loginIssuer}/id/${user.orgId}/${user.id}`,
        issued_at: String(Date.now()),
        signature: "c2lnbmF0dXJl",
      };
      if (issued.scope.split(" ").includes("openid")) {
        response.id_token = await issued.signIdToken({
          iss: loginIssuer,
          aud: issued.clientId,
          sub: `${loginIssuer}/id/${user.orgId}/${user.id}`,
          ...(issued.nonce ? { nonce: issued.nonce } : {}),
        });
      }
      return response;
    },
    resources: {
      "GET /services/oauth2/userinfo": (user) => {
        const u = user as SalesforceUser;
        return {
          body: { sub: `${loginIssuer}/id/${u.orgId}/${u.id}`, user_id: u.id, organization_id: u.orgId, email: u.email, email_verified: true, name: u.name },
        };
      },
    },
    unauthorized: () => ({ status: 401, body: [{ message: "Session expired or invalid", errorCode: "INVALID_SESSION_ID" }] }),
    apiPrefixes: ["/services/data/", "/services/apexrest/"],
    revocation: { method: "POST", path: "/services/oauth2/revoke", tokenOf: (request) => request.form?.get("token") ?? undefined, authenticated: false },
  };
}
