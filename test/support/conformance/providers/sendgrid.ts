/**
 * A fake Twilio SendGrid (https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/authentication,
 * https://www.twilio.com/docs/sendgrid/api-reference/users-api/retrieve-your-username):
 * API keys (`SG.<id>.<secret>`) as `Authorization: Bearer`, no OAuth.
 * `GET /v3/user/username` answers `{ username, user_id }` (a number); a wrong
 * key is 401 `{ errors: [{ field: null, message: "authorization required" }] }`.
 * The API is under `/v3/`.
 */
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

export interface SendGridUser extends FakeUser {
  /** The user id, a number as text. */
  id: string;
  username: string;
}

export const sendGridUser = (n = 1): SendGridUser => ({ id: String(4_180_000 + n), username: `mailer${n}` });

export function sendGridProfile(): FakeProviderProfile {
  return {
    name: "SendGrid",
    // SendGrid has no OAuth for API keys: these paths are never used.
    paths: { authorize: "/unused/authorize", token: "/unused/token" },
    client: { id: "unused", secret: "unused" },
    clientAuth: "client_secret_basic",
    tokenResponse: () => ({}),
    resources: {
      "GET /v3/user/username": (user) => ({ body: { username: (user as SendGridUser).username, user_id: Number(user.id) } }),
    },
    unauthorized: () => ({ status: 401, body: { errors: [{ field: null, message: "authorization required" }] } }),
    apiPrefixes: ["/v3/mail/", "/v3/templates"],
  };
}
