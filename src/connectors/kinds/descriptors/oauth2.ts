/** `oauth2`: a plain OAuth 2.0 upstream, endpoints from the file, who connected from `identity.url` (implementation: ../oauth2.ts). */
import { z } from "zod";
import { redirectFlow, upstreamUrl } from "../../schema-fields.js";
import { credentialNeedsOf, type AuthKindDescriptor } from "../descriptor.js";

const auth = z.strictObject({
  kind: z.literal("oauth2"),
  /**
   * The authorization server's issuer identifier (RFC 8414 §2), where it has
   * one. An `iss` in the authorization response is compared with it (RFC
   * 9207, the mix-up defence); without it, with the authorization URL's origin.
   */
  issuer: upstreamUrl.optional(),
  authorizationUrl: upstreamUrl,
  tokenUrl: upstreamUrl,
  revocationUrl: upstreamUrl.optional(),
  ...redirectFlow,
});

export const oauth2: AuthKindDescriptor<"oauth2", typeof auth> = {
  name: "oauth2",
  auth,
  identityUrlRequired: "it is how the broker learns who connected",
  brokerCredentials: (auth) => credentialNeedsOf(auth.tokenAuthMethod),
  describeConnect: ({ name, perServer }) => (perServer ? `Type your server's address, then sign in at ${name}` : `Sign in at ${name}`),
  implementation: async () => (await import("../oauth2.js")).createOAuth2Kind(),
};
