/**
 * A fake Spotify accounts service and Web API for the client credentials
 * flow (https://developer.spotify.com/documentation/web-api/tutorials/client-credentials-flow):
 *
 * - `accounts.spotify.com/api/token`, `grant_type=client_credentials`, with
 *   the client id and secret as HTTP Basic;
 * - `{ access_token, token_type: "Bearer", expires_in: 3600 }`: no refresh
 *   token, no user — the token is the app's;
 * - errors `{ error: "invalid_client", error_description: "Invalid client" }`, 400;
 * - `api.spotify.com/v1/…`; a refused token is 401 `{ error: { status: 401, message: "Invalid access token" } }`.
 */
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

/** The app itself: client credentials tokens belong to no user. */
export const spotifyApp = (): FakeUser => ({ id: "spotify-app" });

export function spotifyProfile(): FakeProviderProfile {
  return {
    name: "Spotify",
    paths: { authorize: "/authorize", token: "/api/token" },
    client: { id: "0123456789abcdef0123456789abcdef", secret: "fedcba9876543210fedcba9876543210" },
    clientAuth: "client_secret_basic",
    clientCredentialsGrant: true,
    accessTokenLifetimeSeconds: 3600,
    tokenResponse: () => ({ token_type: "Bearer", expires_in: 3600 }),
    tokenError: (error, description) => ({ status: 400, body: { error, error_description: description } }),
    unauthorized: () => ({ status: 401, body: { error: { status: 401, message: "Invalid access token" } } }),
    apiPrefixes: ["/v1/"],
  };
}
