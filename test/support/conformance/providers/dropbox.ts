/**
 * A fake Dropbox (https://developers.dropbox.com/oauth-guide,
 * https://www.dropbox.com/developers/documentation/http/documentation#users-get_current_account):
 *
 * - `www.dropbox.com/oauth2/authorize`, `api.dropboxapi.com/oauth2/token`
 *   (Basic or body client authentication);
 * - a refresh token only with `token_access_type=offline`; a refresh answers
 *   no new refresh token (it does not rotate);
 * - `{ access_token, token_type: "bearer", expires_in: 14400, scope, uid,
 *   account_id }`: access tokens live 4 hours;
 * - the API is RPC: `POST /2/users/get_current_account` answers `account_id`,
 *   `email`, `email_verified`, `name.display_name`; a GET is refused with
 *   400 and a text error, as Dropbox's RPC endpoints do;
 * - a refused token is 401 `{ error_summary: "invalid_access_token/…", error: { ".tag": "invalid_access_token" } }`;
 * - `POST /2/auth/token/revoke` revokes the bearer token of the call (and its grant), no body, `null` answered.
 */
import { bearerToken, type FakeProviderProfile, type FakeUser } from "../fake-provider.js";

export interface DropboxUser extends FakeUser {
  /** `dbid:…` */
  id: string;
  email: string;
  displayName: string;
}

export const dropboxUser = (n = 1): DropboxUser => ({
  id: `dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQng${n}`,
  email: `drop${n}@example.com`,
  displayName: `Drop User ${n}`,
});

export function dropboxProfile(): FakeProviderProfile {
  return {
    name: "Dropbox",
    paths: { authorize: "/oauth2/authorize", token: "/oauth2/token" },
    client: { id: "dropboxappkey01", secret: "dropboxappsecret01" },
    clientAuth: "either",
    refreshTokenFor: (params) => params.get("token_access_type") === "offline",
    refreshRotates: false,
    accessTokenLifetimeSeconds: 14_400,
    tokenResponse: (issued) => ({ token_type: "bearer", expires_in: 14_400, scope: issued.scope, uid: "12345", account_id: issued.user.id }),
    resources: {
      "POST /2/users/get_current_account": (user) => {
        const u = user as DropboxUser;
        return {
          body: {
            account_id: u.id,
            name: { given_name: "Drop", surname: "User", familiar_name: "Drop", display_name: u.displayName, abbreviated_name: "DU" },
            email: u.email,
            email_verified: true,
            disabled: false,
            account_type: { ".tag": "basic" },
          },
        };
      },
      "GET /2/users/get_current_account": () => ({
        status: 400,
        body: 'Error in call to API function "users/get_current_account": Your request has unsupported method GET; use POST.',
      }),
    },
    unauthorized: () => ({ status: 401, body: { error_summary: "invalid_access_token/..", error: { ".tag": "invalid_access_token" } } }),
    apiPrefixes: ["/2/files/", "/2/sharing/"],
    revocation: { method: "POST", path: "/2/auth/token/revoke", authenticated: false, tokenOf: bearerToken },
  };
}
