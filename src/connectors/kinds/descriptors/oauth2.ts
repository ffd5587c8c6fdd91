/** `oauth2`: a plain OAuth 2.0 upstream, endpoints from the file, who connected from `identity.url` (implementation: ../oauth2.ts). */
import { z } from "zod";
import { customRevocation, redirectFlow, tokenEndpoint, tokenResponseLeniency, upstreamUrl } from "../../schema-fields.js";
import { credentialNeedsOf, type AuthKindDescriptor } from "../descriptor.js";

const auth = z.strictObject({
  kind: z.literal("oauth2"),
  issuer: upstreamUrl
    .optional()
    .describe(
      "The authorization server's issuer identifier (RFC 8414 §2), where it has one: an `iss` in the authorization response must equal it (RFC 9207, the mix-up defence); without it, the authorization URL's origin.",
    ),
  authorizationUrl: upstreamUrl.describe("The upstream's authorization endpoint, where the end user signs in."),
  tokenUrl: tokenEndpoint,
  revocationUrl: upstreamUrl.optional().describe("The upstream's revocation endpoint (RFC 7009): an account's tokens are revoked there when it is removed."),
  revocation: customRevocation,
  tokenResponse: tokenResponseLeniency,
  ...redirectFlow,
});

export const oauth2: AuthKindDescriptor<"oauth2", typeof auth> = {
  name: "oauth2",
  auth,
  identityUrlRequired: "it is how the broker learns who connected",
  brokerCredentials: (auth) => credentialNeedsOf(auth.tokenAuthMethod, auth),
  describeConnect: ({ name, perServer }) => (perServer ? `Type your server's address, then sign in at ${name}` : `Sign in at ${name}`),
  implementation: async () => (await import("../oauth2.js")).createOAuth2Kind(),
};
