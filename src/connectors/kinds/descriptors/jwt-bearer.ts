/** `jwt_bearer` (RFC 7523 §2.1): a signed assertion traded for a token, no browser (implementation: ../jwt-bearer.ts). */
import { z } from "zod";
import { clientCredentials, clientSecretBasicEncoding, nonEmpty, SIGNING_ALGORITHMS, tokenEndpoint, valuePattern } from "../../schema-fields.js";
import { credentialNeedsOf, type AuthKindDescriptor } from "../descriptor.js";

/** Claims the broker sets on every assertion (RFC 7523 §3); a connector may not override them. */
const RESERVED_ASSERTION_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti"];

const claimValue = z.union([z.string(), z.number(), z.boolean()]);

const auth = z.strictObject({
  kind: z.literal("jwt_bearer"),
  tokenUrl: tokenEndpoint,
  audience: z.string().min(1, "must not be empty").optional().describe("The assertion's `aud` (RFC 7523 §3); the token URL when absent."),
  algorithm: z.enum(SIGNING_ALGORITHMS).default("RS256").describe("The algorithm `authbroker credentials keygen` makes this connector's key for."),
  claims: z
    .record(z.string(), claimValue)
    .superRefine((claims, ctx) => {
      for (const name of Object.keys(claims)) {
        if (RESERVED_ASSERTION_CLAIMS.includes(name)) ctx.addIssue({ code: "custom", path: [name], message: "is set by the broker and cannot be overridden" });
      }
    })
    .default({})
    .describe("Extra claims of the assertion (Box: `box_sub_type: enterprise`); the registered claim names are refused."),
  subject: z
    .strictObject({
      label: nonEmpty.describe("The subject input's label."),
      description: z.string().optional().describe("Help text under the input."),
      pattern: valuePattern.optional(),
      required: z
        .boolean()
        .default(true)
        .describe("false: the end user may leave it empty, and the assertion then has no `sub` (Google without domain-wide delegation)."),
    })
    .optional()
    .describe("The assertion's `sub`, typed on the connect page (a user or enterprise id). Absent: the broker acts as itself and `sub` is its client id."),
  scopeClaim: z
    .boolean()
    .default(false)
    .describe("Send the scopes as the assertion's `scope` claim (Google) instead of the token request's `scope` parameter (RFC 7523 §2.1)."),
  tokenAuthMethod: z
    .enum(["none", "client_secret_post", "client_secret_basic"])
    .default("none")
    .describe(
      "Client authentication of the token request besides the assertion (RFC 7523 §2.1 makes it optional; Box wants the client id and secret in the body).",
    ),
  clientSecretBasicEncoding,
  assertionLifetimeSeconds: z
    .number()
    .int()
    .min(30)
    .max(3600)
    .default(60)
    .describe("Seconds until the assertion expires: short, it is used once (Box allows at most 60)."),
  clientId: nonEmpty
    .optional()
    .describe("The assertion's `iss`, usually stored with `authbroker credentials set` (a Google service account's `client_email`)."),
  clientSecret: clientCredentials.clientSecret,
});

export const jwtBearer: AuthKindDescriptor<"jwt_bearer", typeof auth> = {
  name: "jwt_bearer",
  auth,
  // The assertion is signed with the broker's key; the token request may authenticate the client besides.
  brokerCredentials: (auth) => ({ ...credentialNeedsOf(auth.tokenAuthMethod), privateKey: { algorithm: auth.algorithm } }),
  describeConnect: () => "Connects as a service account of the app",
  implementation: async () => (await import("../jwt-bearer.js")).createJwtBearerKind(),
};
