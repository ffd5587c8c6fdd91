/**
 * The connector file format (docs/connectors.md): a zod schema discriminated on `auth.kind`
 * (each kind's `auth` section comes from its descriptor, kinds/catalog.ts),
 * strict everywhere so a typo is an error, plus the cross-checks a
 * field-by-field schema cannot make (`{hostname}` needs `hostname.pattern`,
 * default scopes must exist, and what each kind's descriptor says it needs
 * of the rest of the file, such as `identity.url`).
 *
 * The schema sees a document whose `${env:NAME}` references are already
 * resolved and whose placeholders are already checked: `parseConnectorText`
 * in loader.ts is the entry point, not this file.
 */
import { z } from "zod";
import { authKindOf, AUTH_KINDS, usesClientCredentials, type AuthKindName } from "./kinds/catalog.js";
import { isHostWithPort } from "./host.js";
import {
  AWS_KEY_FIELDS,
  HOSTNAME_PLACEHOLDER,
  NO_ID_TOKEN,
  nonEmpty,
  regexProblem,
  TOKEN_PLACEHOLDER,
  upstreamUrl,
  VALUE_PLACEHOLDER,
} from "./schema-fields.js";
import { upstreamValues } from "./schema-values.js";

/**
 * The fields that are templates: filled with the end user's hostname before
 * use. `{hostname}` anywhere else would never be filled, so it is refused.
 */
export const TEMPLATE_FIELDS = [
  "auth.authorizationUrl",
  "auth.tokenUrl",
  "auth.issuer",
  "auth.userinfoUrl",
  "auth.revocationUrl",
  "auth.audience",
  "api.baseUrl",
  "identity.url",
] as const;

/** The fields `{values.<name>}` may be filled in (schema-values.ts): where the account's own API is. */
export const VALUE_TEMPLATE_FIELDS = ["api.baseUrl", "api.bases", "identity.url"] as const;

/** An `api.bases` name, as an app writes it after `@` in the proxy path. */
const BASE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * How long before an upstream access token expires the broker refreshes it,
 * when the connector file does not say (`refresh.marginSeconds`): room for
 * the refresh job to wait its turn, retry a failed attempt and finish before
 * an app's call meets an expired token. The one declaration: every parsed
 * connector carries its margin, so no other module needs a fallback.
 */
export const DEFAULT_REFRESH_MARGIN_SECONDS = 300;

/** Fields whose `${env:…}` may be unset: the operator may store them with `authbroker credentials set` instead. */
export const CREDENTIAL_FIELDS = ["auth.clientId", "auth.clientSecret"] as const;

const logoUrl = z
  .string()
  .refine((value) => {
    if (/^data:image\/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/]+=*$/.test(value)) return true;
    try {
      return new URL(value).protocol === "https:";
    } catch {
      return false;
    }
  }, "must be an https URL or a data:image/…;base64 URI")
  .meta({ format: "uri" });

/** A dotted JSON path into an upstream response: `id`, `data.user.id`, `emails.0.address`. */
const jsonPath = z
  .string()
  .regex(/^[A-Za-z0-9_$@-]+(\.[A-Za-z0-9_$@-]+)*$/, "must be a dotted JSON path such as id or data.user.id")
  .meta({ format: "json-path" });

/** One dotted JSON path, or several tried in order: the first that holds a non-empty text wins (Graph's `mail`, else `userPrincipalName`). */
const jsonPathWithFallbacks = z.union([jsonPath, z.array(jsonPath).min(1, "must list at least one path").max(5, "must list at most 5 paths")], {
  error: "must be a dotted JSON path, or a list of them tried in order",
});

/** An upstream scope string, as the upstream spells it (no whitespace: it would split). */
const upstreamScope = z.string().regex(/^\S+$/, "must be one upstream scope without spaces");

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/; // RFC 9110 §5.6.2 token
const apiCredentials = z.string().refine((value) => {
  if (value === "bearer" || value === "basic" || value === "aws_sigv4") return true;
  if (value.startsWith("header:")) return HEADER_NAME.test(value.slice(7)) && value.toLowerCase() !== "header:host";
  if (value.startsWith("query:")) return /^[A-Za-z0-9_.~-]+$/.test(value.slice(6));
  return false;
}, "must be bearer, basic, aws_sigv4, header:<Name> or query:<param>");

/**
 * Headers the broker may not be told to set: what carries credentials, the
 * message's framing, and what the broker sets itself.
 */
const RESERVED_HEADERS = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "upgrade",
  "te",
  "keep-alive",
  "x-request-id",
]);

const connectorHeaders = z
  .record(
    z.string(),
    // RFC 9110 §5.5: visible characters and spaces, no line breaks (header injection).
    z.string().regex(/^[\x20-\x7e]{1,1024}$/, "header values must be 1-1024 visible ASCII characters"),
  )
  // Names checked here rather than by the record's key schema, whose message would only say "Invalid key".
  .superRefine((headers, ctx) => {
    for (const name of Object.keys(headers)) {
      if (!HEADER_NAME.test(name)) ctx.addIssue({ code: "custom", path: [name], message: "header names must be HTTP tokens (RFC 9110 §5.6.2)" });
      else if (RESERVED_HEADERS.has(name.toLowerCase()))
        ctx.addIssue({ code: "custom", path: [name], message: "is set by the broker and cannot be configured" });
    }
  })
  // Lower-cased once: the broker's own defaults (user-agent) and an app's headers are keyed that way.
  .transform((headers) => Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value])))
  .default({})
  .describe(
    "Headers sent with every request to the upstream: token, identity and revocation requests and proxied calls (Reddit's descriptive `User-Agent`, GitHub's `X-GitHub-Api-Version`). They replace an app's header of the same name, and the broker's own `User-Agent`. `Authorization`, `Cookie`, `Host` and the framing headers are refused.",
  );

/** Bounds of a declared upstream rate limit; `requests` also bounds the broker's log of calls per limit (src/proxy/rate-limit.ts). */
const MAX_LIMIT_REQUESTS = 10_000;
const MAX_LIMIT_INTERVAL_SECONDS = 86_400;

const rateLimits = z
  .array(
    z.strictObject({
      per: z
        .enum(["connector", "account"])
        .describe("What the limit counts: every call of the connector (`connector`), or each account's calls apart (`account`)."),
      requests: z
        .number({ error: "must be a number" })
        .int("must be a whole number")
        .min(1, "must be >= 1")
        .max(MAX_LIMIT_REQUESTS, `must be <= ${MAX_LIMIT_REQUESTS}`)
        .describe("Calls allowed in any interval."),
      intervalSeconds: z
        .number({ error: "must be a number" })
        .int("must be a whole number")
        .min(1, "must be >= 1")
        .max(MAX_LIMIT_INTERVAL_SECONDS, `must be <= ${MAX_LIMIT_INTERVAL_SECONDS}`)
        .describe("The interval's length in seconds."),
    }),
  )
  .max(4, "must list at most 4 limits")
  .superRefine((limits, ctx) => {
    const seen = new Set<string>();
    limits.forEach((limit, index) => {
      const key = `${limit.per}:${limit.intervalSeconds}`;
      if (seen.has(key))
        ctx.addIssue({ code: "custom", path: [index], message: `repeats a ${limit.per} limit over ${limit.intervalSeconds} s: keep the stricter one` });
      seen.add(key);
    });
  })
  .default([])
  .describe(
    "The upstream's rate limits, which the proxy keeps across every broker process (Redis): `[{ per: account, requests: 5000, intervalSeconds: 3600 }]`. A call over a limit waits for a free slot when the app sent `Prefer: wait=<seconds>` and the wait fits (PROXY_RATE_LIMIT_MAX_WAIT_MS), and is answered `429 upstream_rate_limited` with `Retry-After` otherwise; the upstream's own `Retry-After` and `RateLimit-*`/`X-RateLimit-*` answers hold further calls off ([proxy.md](proxy.md#upstream-rate-limits)). Absent: nothing is counted.",
  );

/** The AWS region or service name of a signature's scope: lower-case letters, digits and `-`. */
const awsScopePart = z.string().regex(/^[a-z0-9-]{1,64}$/, "must be lower-case letters, digits and -");

/** The `auth` sections of a tuple of kinds, as a tuple (generic, so the mapped type maps the elements). */
type AuthSectionsOf<Kinds extends readonly { auth: unknown }[]> = { -readonly [I in keyof Kinds]: Kinds[I]["auth"] };

const auth = z
  .discriminatedUnion("kind", AUTH_KINDS.map((kind) => kind.auth) as AuthSectionsOf<typeof AUTH_KINDS>, {
    error: (issue) => (issue.code === "invalid_union" ? `must be one of ${AUTH_KINDS.map((kind) => kind.name).join(", ")}` : undefined),
  })
  .describe("How the broker connects an account at the upstream: `kind` names the auth kind, which decides the other `auth` fields.");

const hostnamePattern = z
  .string()
  .meta({ format: "regex" })
  .superRefine((pattern, ctx) => {
    const problem = regexProblem(pattern);
    if (problem) ctx.addIssue({ code: "custom", message: `is not a valid regular expression: ${problem}` });
    // An unanchored pattern matches `evil.example/acme.example`-like input: the check must cover the whole host.
    else if (!pattern.startsWith("^") || !pattern.endsWith("$") || pattern.endsWith("\\$"))
      ctx.addIssue({ code: "custom", message: "must be anchored with ^ and $ so it matches the whole hostname" });
  });

/** A host (with an optional port) a per-server connector's shared credentials may go to, or `*.domain` for every host under a domain. */
const sharedCredentialHost = z
  .string()
  .toLowerCase()
  .refine((value) => isHostWithPort(value.startsWith("*.") ? value.slice(2) : value), "must be a host name (with an optional :port) or *.domain");

/**
 * How the identity call is made, where a GET is not what the upstream takes:
 * Dropbox's RPC API answers only POST, Linear's GraphQL API a POSTed query.
 */
const identityRequest = {
  method: z
    .enum(["GET", "POST"])
    .default("GET")
    .describe("The identity call's method: `POST` for an upstream that takes no GET there (Dropbox's `users/get_current_account`, a GraphQL endpoint)."),
  body: z
    .json()
    .meta({ format: "json" })
    .optional()
    .describe(
      'With `method: POST`: a JSON body sent as it is written (`application/json`), `null` included; absent, the POST has no body. Linear: `{ query: "{ viewer { id name email } }" }`, with paths such as `data.viewer.id`.',
    ),
};

/** `identity.body` is for a POST, and a POST is for `identity.url`. */
function checkIdentityRequest(identity: { url?: string; method: string; body?: unknown } | undefined, ctx: z.RefinementCtx): void {
  if (!identity) return;
  if (identity.body !== undefined && identity.method !== "POST")
    ctx.addIssue({ code: "custom", path: ["identity", "body"], message: "is sent only with identity.method: POST" });
  if (identity.method !== "GET" && !identity.url)
    ctx.addIssue({ code: "custom", path: ["identity", "method"], message: "needs identity.url: it is that call's method" });
}

/** `{token}` in `identity.url` is the account's access token: kinds whose end users type their credentials have none. */
function checkIdentityToken(connector: Pick<ConnectorFile, "auth" | "identity">, ctx: z.RefinementCtx): void {
  if (connector.identity?.url?.includes(TOKEN_PLACEHOLDER) && !usesClientCredentials(connector))
    ctx.addIssue({
      code: "custom",
      path: ["identity", "url"],
      message: `uses {token}, the account's access token: ${connector.auth.kind} accounts have none`,
    });
}

const SCOPE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const connectorFileSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[a-z0-9-]+$/, "must match [a-z0-9-]+")
      .max(64, "must be at most 64 characters")
      .describe("The connector's id, `[a-z0-9-]+`: in its scopes (`<id>:<scope>`), its callback URL and the APIs."),
    name: nonEmpty.max(100, "must be at most 100 characters").describe("The service's name on the connect pages."),
    logo: logoUrl.optional().describe("The logo on the picker: an https URL or a `data:image/…;base64` URI."),
    auth,
    hostname: z
      .strictObject({
        pattern: hostnamePattern
          .optional()
          .describe(
            "Servers an end user may name beyond the registered ones: a regular expression anchored with `^` and `$`. Required for kinds whose end users bring their own credentials.",
          ),
        sharedCredentialHosts: z
          .array(sharedCredentialHost)
          .default([])
          .describe(
            "Where the connector-wide client credentials (the file's, or `credentials set` without `--hostname`) may be sent: `host[:port]`, or `*.domain` for every host under a domain (one registration serving many servers, as Salesforce's My Domains). Any other server gets only the credentials registered for it.",
          ),
        label: nonEmpty.default("Server address").describe("The label of the hostname input."),
        example: z.string().optional().describe("The hostname input's placeholder and help text: `gitlab.example.com`."),
        pathPrefix: z
          .boolean()
          .default(false)
          .describe(
            "Whether a server may be installed under a path (`example.com/gitlab`, Jira Data Center at `example.com/jira`): the end user's server is then `host[:port]/path/prefix` (segments of letters, digits and `-._~`, no `.` or `..`, no `%`, query or fragment), filled where `{hostname}` is. Only the host is resolved, checked and pinned. Every `{hostname}` must then follow `https://` and be followed by `/` or the end.",
          ),
      })
      .optional()
      .describe(
        "Per-server connectors only (a URL uses `{hostname}`): which servers an end user may name, and how the hostname page asks. A server is admitted when it matches `pattern`, or when the operator registered the broker's credentials for it (`authbroker credentials set <connector> --hostname <host>`).",
      ),
    headers: connectorHeaders,
    values: upstreamValues,
    scopes: z
      .record(z.string().regex(SCOPE_NAME, "scope names must match [A-Za-z0-9][A-Za-z0-9._-]*"), z.array(upstreamScope))
      .default({})
      .describe("Connector scope name → the upstream scopes it stands for; apps ask for `<connector>:<name>`."),
    scopeDescriptions: z
      .record(
        z.string(),
        nonEmpty.max(200, "must be at most 200 characters").refine((text) => !/[\r\n]/.test(text), "must be one line"),
      )
      .default({})
      .describe(
        "Connector scope name → what it lets an app do, in the end user's words (`See your files`), for the connect pages instead of the upstream scope strings; each a key of `scopes`. A scope without one is shown by its name and upstream scopes.",
      ),
    defaultScopes: z.array(z.string()).default([]).describe("The connector scopes asked for when an app names none; each a key of `scopes`."),
    allowRawScopes: z.boolean().default(false).describe("Whether an app may ask for `<connector>:raw:<upstream scope>`."),
    api: z
      .strictObject({
        baseUrl: upstreamUrl.describe("The upstream API the proxy forwards an app's calls to: `/v1/proxy/<path>` goes to `<baseUrl>/<path>`."),
        bases: z
          .record(z.string(), upstreamUrl)
          // Names checked here rather than by the record's key schema, whose message would only say "Invalid key".
          .superRefine((bases, ctx) => {
            for (const name of Object.keys(bases))
              if (!BASE_NAME.test(name)) ctx.addIssue({ code: "custom", path: [name], message: "base names must match [a-z][a-z0-9-]{0,31}" });
          })
          .default({})
          .describe(
            "More APIs of the same upstream, by name, each with the account's same credentials: an app calls `/v1/proxy/@<name>/<path>` for `<base>/<path>` (Google Drive's `upload: https://www.googleapis.com/upload/drive/v3`, Microsoft Graph's `beta`). Each takes `{hostname}` and `{values.<name>}` as `baseUrl` does, and no path can leave it.",
          ),
        credentials: apiCredentials
          .optional()
          .describe(
            "How the proxy sends the account's credential: `bearer`, `basic`, `header:<Name>`, `query:<param>`, or `aws_sigv4` (every request signed with AWS Signature Version 4, see `api.signing`); absent, the auth kind's default (table above).",
          ),
        signing: z
          .strictObject({
            region: awsScopePart.describe("The region the signature is for (`us-east-1`; MinIO's default; R2 takes it for `auto`)."),
            service: awsScopePart.default("s3").describe("The service the signature is for: `s3` for S3 and S3-compatible storage."),
          })
          .optional()
          .describe(
            "With `api.credentials: aws_sigv4` (and only then): the signature's scope. The end user's fields must include `accessKeyId` and a secret `secretAccessKey` (and may include a secret `sessionToken`); the account's subject is the access key id, and `identity.url` is only where the key is checked (a signed GET that must succeed).",
          ),
        rateLimits: rateLimits,
      })
      .optional()
      .describe("Where and how the proxy forwards an app's calls."),
    identity: z
      .strictObject({
        url: upstreamUrl
          .optional()
          .describe(
            "A GET (or `identity.method`) of this URL with the account's credential says who connected; `{token}` in it is the account's access token (HubSpot's `/oauth/v1/access-tokens/{token}`), for kinds that have one.",
          ),
        ...identityRequest,
        subject: jsonPath
          .optional()
          .describe(
            "Where the answer has the stable upstream user id; required with `url`. Without `url`, the claim to read where the kind reads claims (default `sub`).",
          ),
        email: jsonPathWithFallbacks
          .optional()
          .describe(
            "Where the answer has the user's email; a list is tried in order, the first non-empty text wins (`[mail, userPrincipalName]`: Graph's `mail` is null for personal accounts and users without a mailbox).",
          ),
        emailVerified: jsonPath
          .optional()
          .describe(
            'Where the answer says whether the upstream verified that email (a JSON boolean; text such as `"true"` does not count); needs `email`. It becomes the ID token\'s `email_verified`; without it the broker says nothing about verification. Kinds that read claims use `email_verified` by default.',
          ),
        emailLookup: z
          .strictObject({
            url: upstreamUrl.describe("Where the second call goes (GET, with the account's access token)."),
            select: z
              .record(jsonPath, z.union([z.string(), z.number(), z.boolean()]))
              .default({})
              .describe("When the answer is a list: the entry whose fields have these values (`{ primary: true }`); the first entry when empty."),
            email: jsonPath.describe("Where that entry has the email."),
            emailVerified: jsonPath.optional().describe("Where that entry says whether the email is verified (a JSON boolean)."),
          })
          .optional()
          .describe(
            "A second identity call, made only when the `identity.url` answer has no email (GitHub's `/user` shows only a public email; `/user/emails` lists them all). Needs `identity.url`; `{hostname}` is not filled here.",
          ),
        name: jsonPathWithFallbacks.optional().describe("Where the answer has the user's display name; a list is tried in order, as for `email`."),
      })
      .optional()
      .describe(
        "How the broker learns who connected: required for some kinds (table above); kinds that read OIDC claims use the ID token and userinfo without it.",
      ),
    refresh: z
      .strictObject({
        marginSeconds: z
          .number()
          .int("must be a whole number")
          .min(0, "must be >= 0")
          .max(86_400, "must be <= 86400")
          .default(DEFAULT_REFRESH_MARGIN_SECONDS)
          .describe("Renew upstream tokens this many seconds before they expire."),
        defaultTokenLifetimeSeconds: z
          .number()
          .int("must be a whole number")
          .min(60, "must be >= 60")
          .max(31_536_000, "must be <= 31536000")
          .optional()
          .describe(
            "How long the upstream's access tokens live when its token response has no `expires_in` and the token is not a JWT with an `exp`. Absent: such a token is renewed an hour after it was issued (`probe`). The account view says which rule gave its expiry.",
          ),
      })
      .default({ marginSeconds: DEFAULT_REFRESH_MARGIN_SECONDS })
      .describe("When the broker renews an account's upstream tokens."),
  })
  .superRefine((connector, ctx) => {
    const kind = authKindOf(connector);
    const templated = templateFieldValues(connector).filter(([, value]) => value.includes(HOSTNAME_PLACEHOLDER));
    if (templated.length > 0 && !connector.hostname) {
      ctx.addIssue({
        code: "custom",
        path: templated[0]![0].split("."),
        message: "uses {hostname}, so a hostname section (pattern, or registered servers) is required",
      });
    }
    if (connector.hostname && !connector.hostname.pattern && !usesClientCredentials(connector)) {
      ctx.addIssue({
        code: "custom",
        path: ["hostname", "pattern"],
        message: `is required for ${kind.name} connectors: their servers are not registered with the broker`,
      });
    }
    if (connector.hostname && connector.hostname.sharedCredentialHosts.length > 0 && !usesClientCredentials(connector)) {
      ctx.addIssue({
        code: "custom",
        path: ["hostname", "sharedCredentialHosts"],
        message: `is for connectors with client credentials; ${kind.name} end users enter their own`,
      });
    }
    if (connector.hostname?.pathPrefix) {
      // The prefix is a path: it may only stand where the URL's authority starts and a path follows.
      for (const [field, value] of templated) {
        if (
          value
            .split(HOSTNAME_PLACEHOLDER)
            .some((part, i, parts) => (i > 0 && part !== "" && !part.startsWith("/")) || (i < parts.length - 1 && !/^https?:\/\/$/.test(part)))
        )
          ctx.addIssue({
            code: "custom",
            path: field.split("."),
            message: "with hostname.pathPrefix, {hostname} must come right after https:// and be followed by / or the end",
          });
      }
    }
    if (templated.length === 0 && connector.hostname) {
      ctx.addIssue({ code: "custom", path: ["hostname"], message: "is set but no URL uses {hostname}" });
    }
    for (const name of Object.keys(connector.scopeDescriptions)) {
      if (!Object.hasOwn(connector.scopes, name))
        ctx.addIssue({ code: "custom", path: ["scopeDescriptions", name], message: `"${name}" is not a key of scopes` });
    }
    connector.defaultScopes.forEach((name, index) => {
      if (!Object.hasOwn(connector.scopes, name)) ctx.addIssue({ code: "custom", path: ["defaultScopes", index], message: `"${name}" is not a key of scopes` });
    });
    if (connector.identity?.url && !connector.identity.subject && connector.api?.credentials !== "aws_sigv4") {
      ctx.addIssue({ code: "custom", path: ["identity", "subject"], message: "is required with identity.url: it names the stable upstream user id" });
    }
    if (connector.identity?.emailLookup && !connector.identity.url) {
      ctx.addIssue({ code: "custom", path: ["identity", "emailLookup"], message: "needs identity.url: it is a second call after that one" });
    }
    if (connector.identity?.emailVerified && !connector.identity.email && !kind.identityFromClaims) {
      ctx.addIssue({ code: "custom", path: ["identity", "emailVerified"], message: "needs identity.email: it says whether that email is verified" });
    }
    if (connector.auth.kind === "oauth2" && connector.auth.revocation && connector.auth.revocationUrl) {
      ctx.addIssue({ code: "custom", path: ["auth", "revocation"], message: "and auth.revocationUrl both say how to revoke: keep one" });
    }
    if (connector.auth.kind === "oidc" && connector.auth.idTokenIssuer === NO_ID_TOKEN) {
      ctx.addIssue({ code: "custom", path: ["auth", "idTokenIssuer"], message: "cannot be none for oidc connectors: the ID token says who connected" });
    }
    checkAwsSigning(connector, ctx);
    checkValueUses(connector, ctx);
    checkIdentityRequest(connector.identity, ctx);
    checkIdentityToken(connector, ctx);
    if ("certificate" in connector.auth && connector.auth.certificate && connector.auth.tokenAuthMethod !== "private_key_jwt") {
      ctx.addIssue({ code: "custom", path: ["auth", "certificate"], message: "is for tokenAuthMethod private_key_jwt: a certificate names the signing key" });
    }
    const lifetime = connector.refresh.defaultTokenLifetimeSeconds;
    if (lifetime !== undefined && lifetime <= connector.refresh.marginSeconds) {
      ctx.addIssue({
        code: "custom",
        path: ["refresh", "defaultTokenLifetimeSeconds"],
        message: `must be longer than refresh.marginSeconds (${connector.refresh.marginSeconds}): the token would be renewed as soon as it is issued`,
      });
    }
    const session = "session" in connector.auth ? connector.auth.session : undefined;
    if (session && !connector.identity?.url && !connector.identity?.subject) {
      ctx.addIssue({ code: "custom", path: ["identity", "subject"], message: "is required with auth.session: where the login answer names who connected" });
    }
    if (kind.identityUrlRequired && !connector.identity?.url && !session) {
      ctx.addIssue({ code: "custom", path: ["identity", "url"], message: `is required for ${kind.name} connectors: ${kind.identityUrlRequired}` });
    }
  })
  .transform((connector) => ({ ...connector, api: connector.api && { ...connector.api, credentials: apiCredentialsOf(connector) } }));

/**
 * `aws_sigv4` needs its scope (`api.signing`), an access key id and a
 * secret among the end user's fields, and takes the subject from the key id
 * (S3's answers are XML, and ListBuckets names the AWS account, which the
 * IAM users of one account share).
 */
function checkAwsSigning(connector: z.input<typeof connectorFileSchema> & { auth: { kind: string } }, ctx: z.RefinementCtx): void {
  const sigv4 = connector.api?.credentials === "aws_sigv4";
  if (!sigv4) {
    if (connector.api?.signing) ctx.addIssue({ code: "custom", path: ["api", "signing"], message: "is only for api.credentials: aws_sigv4" });
    return;
  }
  if (!connector.api?.signing)
    ctx.addIssue({ code: "custom", path: ["api", "signing"], message: "is required with api.credentials: aws_sigv4 (region, service)" });
  const auth = connector.auth as { kind: string; fields?: { name: string; secret?: boolean }[] };
  if (auth.kind !== "api_key" && auth.kind !== "basic") {
    ctx.addIssue({
      code: "custom",
      path: ["api", "credentials"],
      message: "aws_sigv4 signs with a key the end user types: it needs an api_key or basic connector",
    });
    return;
  }
  const fields = auth.fields ?? [];
  const keyId = fields.find((f) => f.name === AWS_KEY_FIELDS.accessKeyId);
  const secret = fields.find((f) => f.name === AWS_KEY_FIELDS.secretAccessKey);
  if (!keyId || keyId.secret || !secret?.secret)
    ctx.addIssue({ code: "custom", path: ["auth", "fields"], message: "must include accessKeyId and a secret secretAccessKey for api.credentials: aws_sigv4" });
  const token = fields.find((f) => f.name === AWS_KEY_FIELDS.sessionToken);
  if (token && !token.secret) ctx.addIssue({ code: "custom", path: ["auth", "fields"], message: "sessionToken must be secret: true" });
  for (const path of ["subject", "email", "emailVerified", "name"] as const) {
    if (connector.identity?.[path])
      ctx.addIssue({ code: "custom", path: ["identity", path], message: "is not read with api.credentials: aws_sigv4: the access key id is who connected" });
  }
}

/**
 * Every `{values.<name>}` names a value of the file, an `origin` value only
 * starts a template (it is the scheme and host) and a `segment` value never
 * does; a value read by a call may not use another value.
 */
function checkValueUses(connector: z.input<typeof connectorFileSchema>, ctx: z.RefinementCtx): void {
  const values = connector.values ?? {};
  const uses: [string, string][] = [];
  if (connector.api?.baseUrl) uses.push(["api.baseUrl", connector.api.baseUrl]);
  for (const [name, url] of Object.entries(connector.api?.bases ?? {})) uses.push([`api.bases.${name}`, url]);
  if (connector.identity?.url) uses.push(["identity.url", connector.identity.url]);
  for (const [path, template] of uses) {
    for (const match of template.matchAll(VALUE_PLACEHOLDER)) {
      const name = match[1]!;
      const spec = values[name];
      const at = fieldPath(path);
      if (!spec) ctx.addIssue({ code: "custom", path: at, message: `{values.${name}} is not a key of values` });
      else if (spec.as === "origin" && match.index !== 0)
        ctx.addIssue({ code: "custom", path: at, message: `{values.${name}} is an origin: it may only start the URL` });
      else if (spec.as === "segment" && match.index === 0)
        ctx.addIssue({ code: "custom", path: at, message: `{values.${name}} is a path segment: the URL must start with its scheme and host` });
    }
  }
  for (const [name, spec] of Object.entries(values)) {
    if (spec.url && spec.url.match(VALUE_PLACEHOLDER))
      ctx.addIssue({ code: "custom", path: ["values", name, "url"], message: "cannot use {values.…}: it is read before them" });
  }
}

/** `api.bases.upload` as zod's issue path: a base's name is one key even if it held a dot. */
function fieldPath(path: string): string[] {
  const [section, key, ...rest] = path.split(".");
  return rest.length > 0 ? [section!, key!, rest.join(".")] : [section!, key!];
}

/** How the proxy sends an account's credential upstream: the file's `api.credentials`, else its kind's default. */
export function apiCredentialsOf(connector: { auth: { kind: string }; api?: { credentials?: string } }): string {
  return connector.api?.credentials ?? authKindOf(connector).defaultApiCredentials ?? "bearer";
}

/** What a connector file says, after defaults. */
export type ConnectorFile = z.output<typeof connectorFileSchema>;
export type ConnectorAuth = ConnectorFile["auth"];

/** Where a connector came from, and what its file left to the database. */
export interface ConnectorSource {
  /** The file, as named in error messages. */
  file: string;
  /** `${env:…}` variables of credential fields that were unset at load. */
  missingEnv: string[];
}

/** A loaded connector: the file's content plus where it came from. */
export type ConnectorConfig = ConnectorFile & { readonly source: ConnectorSource };

/** A connector narrowed to one auth kind: `ConnectorOfKind<"oidc">["auth"]["issuer"]` is a string. */
export type ConnectorOfKind<K extends AuthKindName> = ConnectorConfig & { auth: Extract<ConnectorAuth, { kind: K }> };

export function isKind<K extends AuthKindName>(connector: ConnectorConfig, kind: K): connector is ConnectorOfKind<K> {
  return connector.auth.kind === kind;
}

/** The template fields a connector has, as [path, value] pairs. */
export function templateFieldValues(
  connector: Pick<ConnectorFile, "auth" | "identity"> & {
    api?: { baseUrl: string; bases?: Record<string, string> };
    values?: Record<string, { url?: string }>;
  },
): [string, string][] {
  const pairs: [string, string][] = [];
  for (const path of TEMPLATE_FIELDS) {
    const [section, key] = path.split(".") as ["auth" | "api" | "identity", string];
    const value = (connector[section] as Record<string, unknown> | undefined)?.[key];
    if (typeof value === "string") pairs.push([path, value]);
  }
  const session = (connector.auth as { session?: { url: string } }).session;
  if (session) pairs.push(["auth.session.url", session.url]);
  for (const [name, url] of Object.entries(connector.api?.bases ?? {})) pairs.push([`api.bases.${name}`, url]);
  for (const [name, spec] of Object.entries(connector.values ?? {})) if (spec.url) pairs.push([`values.${name}.url`, spec.url]);
  return pairs;
}
