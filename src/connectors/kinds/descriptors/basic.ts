/** `basic`: a user name and password the end user types, kept sealed and sent with HTTP Basic (implementation: ../static-credentials.ts). */
import { z } from "zod";
import { formFields } from "../../schema-fields.js";
import type { AuthKindDescriptor } from "../descriptor.js";

const auth = z.strictObject({
  kind: z.literal("basic"),
  fields: formFields([
    { name: "username", label: "Username" },
    { name: "password", label: "Password", secret: true },
  ]),
});

export const basic: AuthKindDescriptor<"basic", typeof auth> = {
  name: "basic",
  auth,
  identityUrlRequired: "the typed values are checked there once, and it says who connected",
  // What the end user typed is a user name and password: the proxy sends them as such (RFC 7617).
  defaultApiCredentials: "basic",
  describeConnect: () => "Type your user name and password (kept encrypted by this broker)",
  implementation: async () => (await import("../static-credentials.js")).createBasicKind(),
};
