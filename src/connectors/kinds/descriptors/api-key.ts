/** `api_key`: a key (or key id and secret) the end user pastes, kept sealed (implementation: ../static-credentials.ts). */
import { z } from "zod";
import { formFields } from "../../schema-fields.js";
import type { AuthKindDescriptor } from "../descriptor.js";

const auth = z.strictObject({
  kind: z.literal("api_key"),
  fields: formFields(),
});

export const apiKey: AuthKindDescriptor<"api_key", typeof auth> = {
  name: "api_key",
  auth,
  identityUrlRequired: "the typed values are checked there once, and it says who connected",
  describeConnect: ({ perServer }) => (perServer ? "Type your server's address and an API key" : "Paste an API key"),
  implementation: async () => (await import("../static-credentials.js")).createApiKeyKind(),
};
