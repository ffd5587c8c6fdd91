/**
 * The field types of the connector file format that the file schema
 * (schema.ts) and the auth kinds' `auth` sections (kinds/descriptors/)
 * share: upstream URLs, client credentials, the authorization request
 * settings of the redirect flow, the inputs of a connect form.
 *
 * Every field's meaning is its `.describe()`: the one place it is written,
 * from which docs/connectors.md is generated (`npm run docs:connectors`).
 * `.meta({ format })` names what a string holds for that reference.
 *
 * A leaf module (zod and the address policy only), so every kind's
 * descriptor can build its section from it without importing the schema
 * that lists the kinds.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { AddressPolicy } from "../net/address-policy.js";
import { CidrList } from "../net/cidr-list.js";

/** The placeholder that makes a connector per-server: the end user's hostname. */
export const HOSTNAME_PLACEHOLDER = "{hostname}";

/** `{values.instanceUrl}`: a value the upstream handed out at connect (schema-values.ts); the name is group 1. */
export const VALUE_PLACEHOLDER = /\{values\.([A-Za-z][A-Za-z0-9_]*)\}/g;

/**
 * A template with each `{values.…}` replaced by a stand-in, so it can be
 * checked as a URL: an origin where it starts the template, a path segment
 * elsewhere (the connector schema checks each value is used as its `as` says).
 */
export function withSampleValues(template: string): string {
  return template.replace(VALUE_PLACEHOLDER, (_whole, _name, offset: number) => (offset === 0 ? "https://value.invalid" : "value"));
}

export const TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"] as const;
export type TokenAuthMethod = (typeof TOKEN_AUTH_METHODS)[number];

/** The account fields `api.credentials: aws_sigv4` signs with (aws-sigv4.ts). */
export const AWS_KEY_FIELDS = { accessKeyId: "accessKeyId", secretAccessKey: "secretAccessKey", sessionToken: "sessionToken" } as const;

/** How `client_secret_basic` encodes the client id and secret (kinds/client-secret-basic.ts says why there is a choice). */
export const CLIENT_SECRET_BASIC_ENCODINGS = ["minimal", "full", "none"] as const;
export type ClientSecretBasicEncoding = (typeof CLIENT_SECRET_BASIC_ENCODINGS)[number];

export const clientSecretBasicEncoding = z
  .enum(CLIENT_SECRET_BASIC_ENCODINGS)
  .default("minimal")
  .describe(
    "With `client_secret_basic`: how the client id and secret are encoded in the header (RFC 6749 §2.3.1). `minimal` form-urlencodes only what needs it (letters, digits and `-._~!*'()` go as they are), which servers that decode and servers that compare the header as written both accept; `full` encodes every character but letters and digits (what openid-client sends); `none` sends them as written, for a server that does not decode and a secret with `+`, `/`, `=` or `%`.",
  );

/** What the broker signs with at an upstream (jwt_bearer assertions, private_key_jwt): `credentials keygen --alg`. */
export const SIGNING_ALGORITHMS = ["RS256", "ES256"] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/**
 * Authorization request parameters the broker sets itself. A connector may
 * not override them: they carry the CSRF, PKCE and mix-up defences (RFC 9700
 * §4.5, §4.7) and the scopes the app was granted.
 */
const RESERVED_AUTHORIZATION_PARAMS = [
  "client_id",
  "redirect_uri",
  "response_type",
  "response_mode",
  "scope",
  "state",
  "nonce",
  "code_challenge",
  "code_challenge_method",
  "request",
  "request_uri",
];

// A stand-in for `{hostname}` while a template is checked as a URL.
const SAMPLE_HOST = "hostname.invalid";
const noPrivateHosts = new AddressPolicy(new CidrList([]));

/** Whether a URL's host is one where plain http is tolerable: loopback or private (development and tests). */
function isLocalHost(hostname: string): boolean {
  const bare = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  if (bare === "localhost" || bare.endsWith(".localhost")) return true;
  return isIP(bare) !== 0 && !noPrivateHosts.permits(bare);
}

/**
 * An upstream URL: https, or http for a loopback/private address or a
 * `{hostname}` (whose resolved address is checked against
 * BROKER_ALLOW_PRIVATE_HOSTS when it is used). No credentials or fragment.
 */
export const upstreamUrl = z
  .string()
  .superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(withSampleValues(value).replaceAll(HOSTNAME_PLACEHOLDER, SAMPLE_HOST));
    } catch {
      ctx.addIssue({ code: "custom", message: "must be an absolute https URL" });
      return;
    }
    const templatedHost = url.hostname === SAMPLE_HOST;
    if (url.protocol === "http:" && !templatedHost && !isLocalHost(url.hostname)) {
      ctx.addIssue({ code: "custom", message: "must be an https URL (http only for loopback or private addresses)" });
    } else if (url.protocol !== "https:" && url.protocol !== "http:") {
      ctx.addIssue({ code: "custom", message: "must be an https URL" });
    } else if (url.username || url.password) {
      ctx.addIssue({ code: "custom", message: "must not carry credentials; use clientId/clientSecret or `authbroker credentials set`" });
    } else if (url.hash || value.includes("#")) {
      ctx.addIssue({ code: "custom", message: "must not have a fragment" });
    }
  })
  .meta({ format: "uri" });

export const tokenEndpoint = upstreamUrl.describe("The upstream's token endpoint.");

export const nonEmpty = z.string().min(1, "must not be empty");

/** Why a regular expression does not compile, or undefined when it does. */
export function regexProblem(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
    return undefined;
  } catch (err) {
    return (err as Error).message.replace(/^Invalid regular expression: /, "");
  }
}

/** A regular expression an end user's typed value must match. */
export const valuePattern = z
  .string()
  .superRefine((pattern, ctx) => {
    const problem = regexProblem(pattern);
    if (problem) ctx.addIssue({ code: "custom", message: `is not a valid regular expression: ${problem}` });
  })
  .meta({ format: "regex" })
  .describe("A regular expression the whole typed value must match.");

const authorizationParams = z
  .record(z.string(), z.string())
  .superRefine((params, ctx) => {
    for (const name of Object.keys(params)) {
      if (RESERVED_AUTHORIZATION_PARAMS.includes(name))
        ctx.addIssue({ code: "custom", path: [name], message: "is set by the broker and cannot be overridden" });
    }
  })
  .default({})
  .describe(
    "Extra authorization request parameters, e.g. `{ access_type: offline }`; the ones the broker sets itself (`state`, `scope`, `redirect_uri`, PKCE…) are refused.",
  );

/** The broker's own client at the upstream, for kinds that have one. */
export const clientCredentials = {
  clientId: nonEmpty
    .optional()
    .describe(
      "The broker's client id at the upstream, usually `${env:NAME}`; when unset, stored with `authbroker credentials set`. Stored credentials win: the app's own, then the default, then the file.",
    ),
  clientSecret: nonEmpty
    .optional()
    .describe("The broker's client secret at the upstream, usually `${env:NAME}`; when unset, stored with `authbroker credentials set`."),
  tokenAuthMethod: z
    .enum(TOKEN_AUTH_METHODS)
    .default("client_secret_basic")
    .describe(
      "How the broker authenticates at the token endpoint (RFC 6749 §2.3); `private_key_jwt` signs with the key `authbroker credentials keygen` makes.",
    ),
  clientSecretBasicEncoding,
  certificate: z
    .boolean()
    .default(false)
    .describe(
      "`private_key_jwt` with a certificate the upstream registered rather than a bare key (Microsoft Entra's certificate credentials): the assertion names the certificate by its SHA-256 thumbprint (`x5t#S256` header), and the key is stored with its certificate (`authbroker credentials set --private-key-file key.pem --certificate-file cert.pem`).",
    ),
};

/** In `auth.idTokenIssuer`: the ID token's own `tid` claim (Microsoft Entra's tenant id). */
export const TENANT_PLACEHOLDER = "{tid}";

/** `auth.idTokenIssuer: none`: the upstream's ID token is not the broker's to read. */
export const NO_ID_TOKEN = "none";

// A stand-in for `{tid}` while the issuer template is checked as a URL.
const SAMPLE_TENANT = "00000000-0000-0000-0000-000000000000";

/**
 * The expected `iss` of the upstream's ID tokens when it is not the
 * server's issuer identifier: a URL where `{tid}` stands for the ID token's
 * own `tid` claim (Entra's multi-tenant endpoints), or `none`.
 */
const idTokenIssuer = z
  .string()
  .superRefine((value, ctx) => {
    if (value === NO_ID_TOKEN) return;
    const checked = upstreamUrl.safeParse(value.replaceAll(TENANT_PLACEHOLDER, SAMPLE_TENANT));
    if (!checked.success) ctx.addIssue({ code: "custom", message: `${checked.error.issues[0]!.message}, or none` });
  })
  .meta({ format: "uri" })
  .optional()
  .describe(
    "The `iss` the upstream's ID tokens carry, where it differs from the server's issuer: a URL in which `{tid}` stands for the ID token's own `tid` claim (Microsoft Entra's multi-tenant `common` endpoint: `https://login.microsoftonline.com/{tid}/v2.0`). The broker then checks the ID token itself: that issuer, `aud` its client id, `exp`, and the nonce for `oidc`. `none` (`oauth2` only): an ID token the upstream adds (because a scope asked for `openid`) is dropped unread, as `identity.url` says who connected.",
  );

/** In `auth.revocation.url`: the broker's client id at the upstream (GitHub's `/applications/{clientId}/grant`). */
export const CLIENT_ID_PLACEHOLDER = "{clientId}";

/**
 * In `identity.url` and `auth.revocation.url`: the account's token, for an
 * upstream that takes it in the path (HubSpot's `/oauth/v1/access-tokens/{token}`).
 * Filled last, percent-encoded (template.ts `fillWithToken`).
 */
export const TOKEN_PLACEHOLDER = "{token}";

/** Where `auth.revocation` puts the token (kinds/custom-revocation.ts). */
const revocationTokenIn = z
  .enum(["body", "query", "bearer", "url"])
  .default("body")
  .describe(
    "Where the token goes: `body` (under `tokenParameter`, as `body` says), `query` (a query parameter named `tokenParameter`: Zoom's `?token=`), `bearer` (`Authorization: Bearer`, with `token: access_token` and no client authentication: Dropbox, Linear), or `url` (the URL's `{token}`: HubSpot's `/oauth/v1/refresh-tokens/{token}`). Only a `body` token or body client authentication makes a body.",
  );

/** The combinations of `auth.revocation` fields that cannot be sent. */
function checkRevocationToken(revocation: { url: string; tokenIn: string; token: string; clientAuth: string }, ctx: z.RefinementCtx): void {
  const inUrl = revocation.url.includes(TOKEN_PLACEHOLDER);
  if (revocation.tokenIn === "url" && !inUrl) ctx.addIssue({ code: "custom", path: ["url"], message: "needs {token} with tokenIn: url" });
  if (revocation.tokenIn !== "url" && inUrl) ctx.addIssue({ code: "custom", path: ["tokenIn"], message: "must be url when the url has {token}" });
  if (revocation.tokenIn === "bearer") {
    if (revocation.clientAuth === "client_secret_basic")
      ctx.addIssue({ code: "custom", path: ["clientAuth"], message: "cannot be client_secret_basic with tokenIn: bearer: both use the Authorization header" });
    if (revocation.token !== "access_token")
      ctx.addIssue({ code: "custom", path: ["token"], message: "must be access_token with tokenIn: bearer: a refresh token is no bearer credential" });
  }
}

/** Revocation as an upstream does it when it does not follow RFC 7009 (kinds/custom-revocation.ts). */
export const customRevocation = z
  .strictObject({
    method: z.enum(["POST", "DELETE"]).default("POST").describe("The HTTP method (GitHub: `DELETE`)."),
    url: z
      .string()
      .superRefine((value, ctx) => {
        const checked = upstreamUrl.safeParse(value.replaceAll(CLIENT_ID_PLACEHOLDER, "client-id"));
        if (!checked.success) ctx.addIssue({ code: "custom", message: checked.error.issues[0]!.message });
      })
      .meta({ format: "uri" })
      .describe(
        "Where it goes; `{clientId}` is the broker's client id there, `{hostname}` the end user's server (per-server connectors), `{token}` the token (with `tokenIn: url`).",
      ),
    body: z.enum(["form", "json"]).default("form").describe("How the token (and client credentials in the body) are sent."),
    tokenParameter: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be a parameter name")
      .default("token")
      .describe("The name the token is sent under (GitHub: `access_token`)."),
    token: z
      .enum(["any", "access_token", "refresh_token"])
      .default("any")
      .describe("Which of an account's tokens it takes; the other is not sent (GitHub revokes the grant by its access token)."),
    clientAuth: z
      .enum(["client_secret_basic", "client_secret_post", "none"])
      .default("client_secret_basic")
      .describe("How the broker authenticates: HTTP Basic, in the body, or not at all."),
    tokenIn: revocationTokenIn,
  })
  .superRefine(checkRevocationToken)
  .optional()
  .describe(
    "Revocation where the upstream does not follow RFC 7009 (instead of `revocationUrl`): GitHub's `DELETE /applications/{clientId}/grant` with Basic authentication and a JSON body `{ access_token }`. A 2xx or 404 (already gone) counts as revoked.",
  );
export type CustomRevocation = NonNullable<z.output<typeof customRevocation>>;

/** The authorization code flow with a browser redirect (oauth2, oidc). */
export const redirectFlow = {
  idTokenIssuer,
  pkce: z.boolean().default(true).describe("RFC 7636 PKCE with S256 at the upstream; off only for upstreams that reject it."),
  scopeSeparator: z
    .string()
    .min(1, "must not be empty")
    .max(3, "must be at most 3 characters")
    .default(" ")
    .describe("How the upstream joins scopes in `scope` (a few use `,`)."),
  authorizationParams,
  ...clientCredentials,
};

/** One value the end user types into the broker's form. */
const formField = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_]*$/, "must be a letter followed by letters, digits or _")
    .describe("The value's key: a letter, then letters, digits or `_`. HTTP Basic sends `username` and `password` when there are such fields."),
  label: nonEmpty.describe("The input's label."),
  secret: z.boolean().default(false).describe("A password input, never shown again; the value a one-value `api.credentials` style sends."),
  // The array's check below reports an invalid pattern with its index.
  pattern: z.string().meta({ format: "regex" }).optional().describe("A regular expression the whole typed value must match."),
  description: z.string().optional().describe("Help text under the input (where to find the key)."),
});

/** The values the end user types (basic, api_key): names unique, patterns valid; `defaults` when the file lists none. */
export const formFields = (defaults?: z.input<typeof formField>[]) => {
  const list = z.array(formField).min(1, "must list at least one field");
  return (defaults ? list.default(defaults.map((f) => formField.parse(f))) : list)
    .describe("The values the end user types on the connect page, checked once at `identity.url` and kept sealed.")
    .superRefine((fields, ctx) => {
      const seen = new Set<string>();
      fields.forEach((field, index) => {
        if (seen.has(field.name)) ctx.addIssue({ code: "custom", path: [index, "name"], message: `"${field.name}" appears twice` });
        seen.add(field.name);
        if (field.pattern !== undefined && regexProblem(field.pattern))
          ctx.addIssue({ code: "custom", path: [index, "pattern"], message: `is not a valid regular expression: ${regexProblem(field.pattern)}` });
      });
    });
};

/** `token_type` values that are never read as a bearer credential: RFC 6750's own, and DPoP's, which is bound to a key (RFC 9449). */
const SPECIFIED_TOKEN_TYPES = ["bearer", "dpop"];

/**
 * `auth.tokenResponse`: what a token response may say beyond RFC 6749 §5.1
 * and still be taken (kinds/token-response.ts). Each leniency is named by
 * the connector that needs it; every other connector keeps the checks.
 */
export const tokenResponseLeniency = z
  .strictObject({
    bearerTokenTypes: z
      .array(
        z
          .string()
          .regex(/^[A-Za-z0-9_.-]{1,32}$/, "must be a token_type value such as bot")
          .toLowerCase()
          .refine((type) => !SPECIFIED_TOKEN_TYPES.includes(type), "bearer and DPoP are not leniencies: bearer is always taken, DPoP never"),
      )
      .default([])
      .describe(
        "`token_type` values (any case) taken as a token sent the way `api.credentials` says, as a bearer token is: Slack's `bot` and `user`. A `DPoP` token, bound to a key the broker does not hold, is never taken.",
      ),
    tokenTypeOptional: z
      .boolean()
      .default(false)
      .describe("A response without `token_type` is taken, its token sent the way `api.credentials` says (Shopify's offline tokens)."),
    scopeList: z
      .boolean()
      .default(false)
      .describe('A `scope` that is a JSON list of strings is taken, and kept space-separated (Linear\'s `["read", "write"]`).'),
  })
  .optional()
  .describe(
    "Token responses that do not follow RFC 6749 §5.1 but that the upstream really sends: without the upstream's quirk declared here, the code exchange and refresh refuse them.",
  );
export type TokenResponseLeniency = NonNullable<z.output<typeof tokenResponseLeniency>>;
