/** `api_key`: a key (or key id and secret) the end user pastes, kept sealed (implementation: ../static-credentials.ts). */
import { z } from "zod";
import { formFields, upstreamUrl } from "../../schema-fields.js";
import type { AuthKindDescriptor } from "../descriptor.js";

const auth = z.strictObject({
  kind: z.literal("api_key"),
  fields: formFields(),
  session: z
    .strictObject({
      url: upstreamUrl.describe("The login call (`{hostname}` filled)."),
      method: z.enum(["GET", "POST"]).default("GET").describe("Its HTTP method (Backblaze B2's `b2_authorize_account`: `GET`)."),
      credentials: z
        .enum(["basic"])
        .default("basic")
        .describe("How the typed values go: `basic`, HTTP Basic of the first plain and the first secret field (`keyId:applicationKey`)."),
      token: z
        .string()
        .regex(/^[A-Za-z0-9_$@-]+(\.[A-Za-z0-9_$@-]+)*$/, "must be a dotted JSON path such as authorizationToken")
        .meta({ format: "json-path" })
        .describe("Where the login answer has the session token: what `api.credentials` then sends."),
      lifetimeSeconds: z
        .number()
        .int("must be a whole number")
        .min(60, "must be >= 60")
        .max(31_536_000, "must be <= 31536000")
        .describe("How long a session token lives: the broker logs in again `refresh.marginSeconds` before it ends, and after a 401."),
    })
    .optional()
    .describe(
      "A key that is not sent itself but exchanged for a session token (Backblaze B2): a login call with the typed values whose JSON answer has the token, which lives `lifetimeSeconds`. The answer's `identity` paths say who connected (no `identity.url` needed), and its `values` (`from: token`) are read from it at each login.",
    ),
});

export const apiKey: AuthKindDescriptor<"api_key", typeof auth> = {
  name: "api_key",
  auth,
  identityUrlRequired: "the typed values are checked there once, and it says who connected (or auth.session, whose answer does)",
  describeConnect: ({ perServer }) => (perServer ? "Type your server's address and an API key" : "Paste an API key"),
  implementation: async () => (await import("../static-credentials.js")).createApiKeyKind(),
};
