/** `password_grant` (RFC 6749 §4.3): a typed name and password traded once for tokens (implementation: ../password-grant.ts). */
import { z } from "zod";
import { clientCredentials, nonEmpty, tokenEndpoint } from "../../schema-fields.js";
import { credentialNeedsOf, type AuthKindDescriptor } from "../descriptor.js";

const auth = z.strictObject({
  kind: z.literal("password_grant"),
  tokenUrl: tokenEndpoint,
  usernameLabel: nonEmpty.default("Username").describe("The label of the user name input (`Email`, `Username`)."),
  ...clientCredentials,
});

export const passwordGrant: AuthKindDescriptor<"password_grant", typeof auth> = {
  name: "password_grant",
  auth,
  brokerCredentials: (auth) => credentialNeedsOf(auth.tokenAuthMethod, auth),
  describeConnect: () => "Type your user name and password (used once, not kept)",
  implementation: async () => (await import("../password-grant.js")).createPasswordGrantKind(),
};
