/** `oidc`: an OpenID Connect upstream, endpoints from discovery, who connected from the ID token (implementation: ../oidc.ts). */
import { z } from "zod";
import { redirectFlow, upstreamUrl } from "../../schema-fields.js";
import { credentialNeedsOf, type AuthKindDescriptor } from "../descriptor.js";

const auth = z.strictObject({
  kind: z.literal("oidc"),
  issuer: upstreamUrl.describe(
    "The OpenID Provider: discovery at `<issuer>/.well-known/openid-configuration` gives the endpoints, which the URLs below override. The document's `issuer` must be this one, or Microsoft Entra's multi-tenant template (`https://login.microsoftonline.com/{tenantid}/v2.0` for `…/common/v2.0` or `…/organizations/v2.0`), whose ID tokens are then checked with `{tenantid}` taken from each token's `tid`.",
  ),
  authorizationUrl: upstreamUrl.optional().describe("Overrides the discovered authorization endpoint."),
  tokenUrl: upstreamUrl.optional().describe("Overrides the discovered token endpoint."),
  userinfoUrl: upstreamUrl.optional().describe("Overrides the discovered userinfo endpoint."),
  revocationUrl: upstreamUrl.optional().describe("Overrides the discovered revocation endpoint."),
  ...redirectFlow,
});

export const oidc: AuthKindDescriptor<"oidc", typeof auth> = {
  name: "oidc",
  auth,
  identityFromClaims: true,
  brokerCredentials: (auth) => credentialNeedsOf(auth.tokenAuthMethod, auth),
  describeConnect: ({ name, perServer }) => (perServer ? `Type your server's address, then sign in at ${name}` : `Sign in at ${name}`),
  implementation: async () => (await import("../oidc.js")).createOidcKind(),
};
