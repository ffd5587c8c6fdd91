/** `client_credentials` (RFC 6749 §4.4): the connector app's own token (implementation: ../client-credentials.ts). */
import { z } from "zod";
import { clientCredentials as clientCredentialFields, tokenEndpoint } from "../../schema-fields.js";
import { credentialNeedsOf, type AuthKindDescriptor } from "../descriptor.js";

const auth = z.strictObject({
  kind: z.literal("client_credentials"),
  tokenUrl: tokenEndpoint,
  tokenParams: z.record(z.string(), z.string()).default({}).describe("Extra token request parameters, e.g. `{ audience: … }`."),
  ...clientCredentialFields,
});

export const clientCredentials: AuthKindDescriptor<"client_credentials", typeof auth> = {
  name: "client_credentials",
  auth,
  brokerCredentials: (auth) => credentialNeedsOf(auth.tokenAuthMethod, auth),
  describeConnect: () => "Connects as the app itself: nothing to sign in to",
  implementation: async () => (await import("../client-credentials.js")).createClientCredentialsKind(),
};
