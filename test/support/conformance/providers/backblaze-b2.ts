/**
 * A fake Backblaze B2 (native API v3, https://www.backblaze.com/apidocs/b2-authorize-account):
 *
 * - `GET /b2api/v3/b2_authorize_account` with HTTP Basic of
 *   `applicationKeyId:applicationKey` answers `{ accountId,
 *   authorizationToken, apiInfo: { storageApi: { apiUrl, downloadUrl, … } } }`;
 *   the token is valid for up to 24 hours; a wrong or deleted key is 401
 *   `{ status, code: "unauthorized"|"bad_auth_token", message }`;
 * - every other call at `apiUrl` (`/b2api/v3/…`) or `downloadUrl`
 *   (`/file/…`) with `Authorization: <token>`, no scheme; an expired token
 *   is 401 `expired_auth_token`.
 */
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

export interface B2User extends FakeUser {
  keyId: string;
  applicationKey: string;
}

export function b2User(n = 1): B2User {
  return { id: `e1f2a3b4c5d${n}`, keyId: `005e1f2a3b4c5d${n}0000000001`, applicationKey: `K005abcdefghijklmnopqrstuvwxyz${n}` };
}

export function b2Profile(options: { apiUrl?: (origin: string) => string } = {}): FakeProviderProfile {
  return {
    name: "Backblaze B2",
    // No OAuth: the key login below is the only way in.
    paths: { authorize: "/no-authorize", token: "/no-token" },
    client: { id: "unused", secret: "unused" },
    clientAuth: "client_secret_basic",
    accessTokenLifetimeSeconds: 86_400,
    tokenResponse: () => ({}),
    tokenScheme: "raw",
    keyLogin: {
      method: "GET",
      path: "/b2api/v3/b2_authorize_account",
      response: ({ user, origin, accessToken }) => ({
        accountId: user.id,
        authorizationToken: accessToken,
        applicationKeyExpirationTimestamp: null,
        apiInfo: {
          storageApi: {
            apiUrl: options.apiUrl?.(origin) ?? origin,
            downloadUrl: origin,
            s3ApiUrl: "https://s3.us-west-004.backblazeb2.com",
            absoluteMinimumPartSize: 5_000_000,
            recommendedPartSize: 100_000_000,
            capabilities: ["listBuckets", "readFiles", "writeFiles"],
            bucketId: null,
            bucketName: null,
            namePrefix: null,
            infoType: "storageApi",
          },
        },
      }),
      refused: () => ({ status: 401, body: { status: 401, code: "unauthorized", message: "" } }),
    },
    unauthorized: () => ({ status: 401, body: { status: 401, code: "expired_auth_token", message: "Authorization token has expired" } }),
    apiPrefixes: ["/b2api/v3/", "/file/"],
  };
}
