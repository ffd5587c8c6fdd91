/**
 * The connector file format (docs/connectors.md): a zod schema
 * discriminated on `auth.kind`, strict everywhere so a typo is an error, plus
 * the cross-checks a field-by-field schema cannot make (`{hostname}` needs
 * `hostname.pattern`, default scopes must exist, an oauth2 connector must say
 * how to learn who connected).
 *
 * The schema sees a document whose `${env:NAME}` references are already
 * resolved and whose placeholders are already checked: `parseConnectorText`
 * in loader.ts is the entry point, not this file.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { AddressPolicy } from "../net/address-policy.js";
import { isHostWithPort } from "./host.js";
import { CidrList } from "../net/cidr-list.js";

export const AUTH_KINDS = ["oauth2", "oidc", "jwt_bearer", "client_credentials", "basic", "api_key", "password_grant"] as const;
export type AuthKindName = (typeof AUTH_KINDS)[number];

export const TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"] as const;
export type TokenAuthMethod = (typeof TOKEN_AUTH_METHODS)[number];

/** The only placeholder a connector may use; it makes the connector per-server. */
export const HOSTNAME_PLACEHOLDER = "{hostname}";

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

/** Fields whose `${env:…}` may be unset: the operator may store them with `authbroker credentials set` instead. */
export const CREDENTIAL_FIELDS = ["auth.clientId", "auth.clientSecret"] as const;

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
export function isLocalHost(hostname: string): boolean {
  const bare = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  if (bare === "localhost" || bare.endsWith(".localhost")) return true;
  return isIP(bare) !== 0 && !noPrivateHosts.permits(bare);
}

/**
 * An upstream URL: https, or http for a loopback/private address or a
 * `{hostname}` (whose resolved address is checked against
 * BROKER_ALLOW_PRIVATE_HOSTS when it is used). No credentials or fragment.
 */
const upstreamUrl = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value.replaceAll(HOSTNAME_PLACEHOLDER, SAMPLE_HOST));
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
});

const logoUrl = z.string().refine((value) => {
  if (/^data:image\/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/]+=*$/.test(value)) return true;
  try {
    return new URL(value).protocol === "https:";
  } catch {
    return false;
  }
}, "must be an https URL or a data:image/…;base64 URI");

const nonEmpty = z.string().min(1, "must not be empty");

/** A dotted JSON path into an upstream response: `id`, `data.user.id`, `emails.0.address`. */
const jsonPath = z.string().regex(/^[A-Za-z0-9_$@-]+(\.[A-Za-z0-9_$@-]+)*$/, "must be a dotted JSON path such as id or data.user.id");

/** An upstream scope string, as the upstream spells it (no whitespace: it would split). */
const upstreamScope = z.string().regex(/^\S+$/, "must be one upstream scope without spaces");

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/; // RFC 9110 §5.6.2 token
const apiCredentials = z.string().refine((value) => {
  if (value === "bearer" || value === "basic") return true;
  if (value.startsWith("header:")) return HEADER_NAME.test(value.slice(7)) && value.toLowerCase() !== "header:host";
  if (value.startsWith("query:")) return /^[A-Za-z0-9_.~-]+$/.test(value.slice(6));
  return false;
}, "must be bearer, basic, header:<Name> or query:<param>");

const authorizationParams = z
  .record(z.string(), z.string())
  .superRefine((params, ctx) => {
    for (const name of Object.keys(params)) {
      if (RESERVED_AUTHORIZATION_PARAMS.includes(name))
        ctx.addIssue({ code: "custom", path: [name], message: "is set by the broker and cannot be overridden" });
    }
  })
  .default({});

const clientCredentials = {
  /** Absent: stored in the database with `authbroker credentials set`. */
  clientId: nonEmpty.optional(),
  clientSecret: nonEmpty.optional(),
  tokenAuthMethod: z.enum(TOKEN_AUTH_METHODS).default("client_secret_basic"),
};

const redirectFlow = {
  /** RFC 7636 PKCE with S256 upstream; off only for upstreams that reject it. */
  pkce: z.boolean().default(true),
  /** How the upstream joins scopes in `scope` (a few use ","). */
  scopeSeparator: z.string().min(1, "must not be empty").max(3, "must be at most 3 characters").default(" "),
  /** Extra authorization request parameters, e.g. `{ access_type: offline }`. */
  authorizationParams,
  ...clientCredentials,
};

const oauth2Auth = z.strictObject({
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

const oidcAuth = z.strictObject({
  kind: z.literal("oidc"),
  /** Discovery (`/.well-known/openid-configuration`) gives the endpoints; the fields below override it. */
  issuer: upstreamUrl,
  authorizationUrl: upstreamUrl.optional(),
  tokenUrl: upstreamUrl.optional(),
  userinfoUrl: upstreamUrl.optional(),
  revocationUrl: upstreamUrl.optional(),
  ...redirectFlow,
});

const claimValue = z.union([z.string(), z.number(), z.boolean()]);

/** Claims the broker sets on every assertion (RFC 7523 §3); a connector may not override them. */
export const RESERVED_ASSERTION_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti"];

/** What the end user types on the connect page, and how it is checked. */
const promptedValue = {
  label: nonEmpty,
  /** Help text under the input. */
  description: z.string().optional(),
  /** A regular expression the whole value must match. */
  pattern: z.string().optional(),
};

const jwtBearerAuth = z.strictObject({
  kind: z.literal("jwt_bearer"),
  tokenUrl: upstreamUrl,
  /** The `aud` of the assertion (RFC 7523 §3); the token URL when absent. */
  audience: z.string().min(1, "must not be empty").optional(),
  /** The signing algorithm `authbroker credentials keygen` uses for this connector. */
  algorithm: z.enum(["RS256", "ES256"]).default("RS256"),
  /** Extra claims of the assertion (Box: `box_sub_type: enterprise`). */
  claims: z
    .record(z.string(), claimValue)
    .superRefine((claims, ctx) => {
      for (const name of Object.keys(claims)) {
        if (RESERVED_ASSERTION_CLAIMS.includes(name)) ctx.addIssue({ code: "custom", path: [name], message: "is set by the broker and cannot be overridden" });
      }
    })
    .default({}),
  /**
   * The assertion's `sub`, typed on the connect page (a user or enterprise
   * id). Absent: the broker acts as itself and `sub` is its client id.
   */
  subject: z
    .strictObject({
      ...promptedValue,
      /** false: the end user may leave it empty, and the assertion then has no `sub` (Google without domain-wide delegation). */
      required: z.boolean().default(true),
    })
    .optional(),
  /** Send the scopes as the assertion's `scope` claim (Google) instead of the token request's `scope` parameter (RFC 7523 §2.1). */
  scopeClaim: z.boolean().default(false),
  /**
   * Client authentication of the token request besides the assertion
   * (RFC 7523 §2.1 makes it optional; Box wants client_id and
   * client_secret in the body).
   */
  tokenAuthMethod: z.enum(["none", "client_secret_post", "client_secret_basic"]).default("none"),
  /** Seconds until the assertion expires: short, it is used once (Box allows at most 60). */
  assertionLifetimeSeconds: z.number().int().min(30).max(3600).default(60),
  /** The assertion's `iss`; stored with `authbroker credentials set` (a Google service account's client_email). */
  clientId: nonEmpty.optional(),
  clientSecret: nonEmpty.optional(),
});

const clientCredentialsAuth = z.strictObject({
  kind: z.literal("client_credentials"),
  tokenUrl: upstreamUrl,
  /** Extra token request parameters, e.g. `{ audience: … }`. */
  tokenParams: z.record(z.string(), z.string()).default({}),
  ...clientCredentials,
});

const passwordGrantAuth = z.strictObject({
  kind: z.literal("password_grant"),
  tokenUrl: upstreamUrl,
  /** The label of the user name input (`Email`, `Username`). */
  usernameLabel: nonEmpty.default("Username"),
  ...clientCredentials,
});

/** One value the end user types into the broker's form. */
const formField = z.strictObject({
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, "must be a letter followed by letters, digits or _"),
  label: nonEmpty,
  /** Shown as a password input, and never echoed back. */
  secret: z.boolean().default(false),
  /** Optional check of the typed value (a regular expression the whole value must match). */
  pattern: z.string().optional(),
  /** Help text under the input (where to find the key). */
  description: z.string().optional(),
});

const formFields = (defaults?: z.input<typeof formField>[]) => {
  const list = z.array(formField).min(1, "must list at least one field");
  return (defaults ? list.default(defaults.map((f) => formField.parse(f))) : list).superRefine((fields, ctx) => {
    const seen = new Set<string>();
    fields.forEach((field, index) => {
      if (seen.has(field.name)) ctx.addIssue({ code: "custom", path: [index, "name"], message: `"${field.name}" appears twice` });
      seen.add(field.name);
      if (field.pattern !== undefined && regexProblem(field.pattern))
        ctx.addIssue({ code: "custom", path: [index, "pattern"], message: `is not a valid regular expression: ${regexProblem(field.pattern)}` });
    });
  });
};

const basicAuth = z.strictObject({
  kind: z.literal("basic"),
  fields: formFields([
    { name: "username", label: "Username" },
    { name: "password", label: "Password", secret: true },
  ]),
});

const apiKeyAuth = z.strictObject({
  kind: z.literal("api_key"),
  fields: formFields(),
});

const auth = z.discriminatedUnion("kind", [oauth2Auth, oidcAuth, jwtBearerAuth, clientCredentialsAuth, basicAuth, apiKeyAuth, passwordGrantAuth], {
  error: (issue) => (issue.code === "invalid_union" ? `must be one of ${AUTH_KINDS.join(", ")}` : undefined),
});

function regexProblem(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
    return undefined;
  } catch (err) {
    return (err as Error).message.replace(/^Invalid regular expression: /, "");
  }
}

const hostnamePattern = z.string().superRefine((pattern, ctx) => {
  const problem = regexProblem(pattern);
  if (problem) ctx.addIssue({ code: "custom", message: `is not a valid regular expression: ${problem}` });
  // An unanchored pattern matches `evil.example/acme.example`-like input: the check must cover the whole host.
  else if (!pattern.startsWith("^") || !pattern.endsWith("$") || pattern.endsWith("\\$"))
    ctx.addIssue({ code: "custom", message: "must be anchored with ^ and $ so it matches the whole hostname" });
});

/** A host (with an optional port) a per-server connector's shared credentials may go to, or `*.domain` for every host under a domain. */
const sharedCredentialHost = z
  .string()
  .transform((value) => value.toLowerCase())
  .refine((value) => isHostWithPort(value.startsWith("*.") ? value.slice(2) : value), "must be a host name (with an optional :port) or *.domain");

const SCOPE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const connectorFileSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[a-z0-9-]+$/, "must match [a-z0-9-]+")
      .max(64, "must be at most 64 characters"),
    name: nonEmpty.max(100, "must be at most 100 characters"),
    logo: logoUrl.optional(),
    auth,
    /**
     * Only for per-server connectors: which servers an end user may name, and
     * how the form asks for one. A server is admitted when it matches
     * `pattern`, or when the operator registered the broker's credentials for
     * it (`authbroker credentials set <connector> --hostname <host>`).
     */
    hostname: z
      .strictObject({
        /** Servers end users may name beyond the registered ones. Required for kinds whose end users bring their own credentials. */
        pattern: hostnamePattern.optional(),
        /**
         * Where the connector-wide client credentials (clientId/clientSecret
         * here, or `credentials set` without --hostname) may be sent: one
         * registration that serves many servers (Salesforce's My Domains).
         * Any other server gets only credentials registered for it.
         */
        sharedCredentialHosts: z.array(sharedCredentialHost).default([]),
        /** The label of the hostname input. */
        label: nonEmpty.default("Server address"),
        /** Shown as the input's placeholder and help text: `gitlab.example.com`. */
        example: z.string().optional(),
      })
      .optional(),
    /** Connector scope name → upstream scope strings. */
    scopes: z.record(z.string().regex(SCOPE_NAME, "scope names must match [A-Za-z0-9][A-Za-z0-9._-]*"), z.array(upstreamScope)).default({}),
    defaultScopes: z.array(z.string()).default([]),
    /** Whether an app may ask for `<connector>:raw:<upstream scope>`. */
    allowRawScopes: z.boolean().default(false),
    api: z
      .strictObject({
        baseUrl: upstreamUrl,
        /** Default: `basic` for the basic kind, `bearer` otherwise. */
        credentials: apiCredentials.optional(),
      })
      .optional(),
    /** How to learn who connected; for oidc the ID token and userinfo are used when `url` is absent. */
    identity: z
      .strictObject({
        url: upstreamUrl.optional(),
        /** Required with `url`; for oidc without `url` it picks from the ID token and userinfo claims (default `sub`). */
        subject: jsonPath.optional(),
        email: jsonPath.optional(),
        /**
         * Where the answer says whether the upstream verified that email (a
         * JSON boolean); without it the ID token has no `email_verified`.
         * oidc: `email_verified` by default.
         */
        emailVerified: jsonPath.optional(),
        name: jsonPath.optional(),
      })
      .optional(),
    refresh: z
      .strictObject({
        /** Refresh this many seconds before the upstream access token expires. */
        marginSeconds: z.number().int("must be a whole number").min(0, "must be >= 0").max(86_400, "must be <= 86400").default(300),
      })
      .default({ marginSeconds: 300 }),
  })
  .superRefine((connector, ctx) => {
    const templated = templateFieldValues(connector).filter(([, value]) => value.includes(HOSTNAME_PLACEHOLDER));
    if (templated.length > 0 && !connector.hostname) {
      ctx.addIssue({
        code: "custom",
        path: templated[0]![0].split("."),
        message: "uses {hostname}, so a hostname section (pattern, or registered servers) is required",
      });
    }
    if (connector.hostname && !connector.hostname.pattern && !kindUsesClientCredentials(connector.auth.kind)) {
      ctx.addIssue({
        code: "custom",
        path: ["hostname", "pattern"],
        message: `is required for ${connector.auth.kind} connectors: their servers are not registered with the broker`,
      });
    }
    if (connector.hostname && connector.hostname.sharedCredentialHosts.length > 0 && !kindUsesClientCredentials(connector.auth.kind)) {
      ctx.addIssue({
        code: "custom",
        path: ["hostname", "sharedCredentialHosts"],
        message: `is for connectors with client credentials; ${connector.auth.kind} end users enter their own`,
      });
    }
    if (templated.length === 0 && connector.hostname) {
      ctx.addIssue({ code: "custom", path: ["hostname"], message: "is set but no URL uses {hostname}" });
    }
    connector.defaultScopes.forEach((name, index) => {
      if (!Object.hasOwn(connector.scopes, name)) ctx.addIssue({ code: "custom", path: ["defaultScopes", index], message: `"${name}" is not a key of scopes` });
    });
    if (connector.identity?.url && !connector.identity.subject) {
      ctx.addIssue({ code: "custom", path: ["identity", "subject"], message: "is required with identity.url: it names the stable upstream user id" });
    }
    if (connector.identity?.emailVerified && !connector.identity.email && connector.auth.kind !== "oidc") {
      ctx.addIssue({ code: "custom", path: ["identity", "emailVerified"], message: "needs identity.email: it says whether that email is verified" });
    }
    if (connector.auth.kind === "oauth2" && !connector.identity?.url) {
      ctx.addIssue({ code: "custom", path: ["identity", "url"], message: "is required for oauth2 connectors: it is how the broker learns who connected" });
    }
    if ((connector.auth.kind === "basic" || connector.auth.kind === "api_key") && !connector.identity?.url) {
      ctx.addIssue({
        code: "custom",
        path: ["identity", "url"],
        message: `is required for ${connector.auth.kind} connectors: the typed values are checked there once, and it says who connected`,
      });
    }
    if (connector.auth.kind === "jwt_bearer" && connector.auth.subject?.pattern !== undefined && regexProblem(connector.auth.subject.pattern)) {
      ctx.addIssue({
        code: "custom",
        path: ["auth", "subject", "pattern"],
        message: `is not a valid regular expression: ${regexProblem(connector.auth.subject.pattern)}`,
      });
    }
  })
  // The default of api.credentials depends on the kind: a basic connector sends what its end users typed with HTTP Basic.
  .transform((connector) => ({
    ...connector,
    api: connector.api && { ...connector.api, credentials: connector.api.credentials ?? (connector.auth.kind === "basic" ? "basic" : "bearer") },
  }));

/** Kinds whose end users bring their own credentials: the broker has no client of its own upstream. */
const KINDS_WITHOUT_CLIENT: readonly AuthKindName[] = ["basic", "api_key"];

/** Whether the broker needs its own client credentials at a connector of this kind. */
export function kindUsesClientCredentials(kind: AuthKindName): boolean {
  return !KINDS_WITHOUT_CLIENT.includes(kind);
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
export function templateFieldValues(connector: Pick<ConnectorFile, "auth" | "identity"> & { api?: { baseUrl: string } }): [string, string][] {
  const pairs: [string, string][] = [];
  for (const path of TEMPLATE_FIELDS) {
    const [section, key] = path.split(".") as ["auth" | "api" | "identity", string];
    const value = (connector[section] as Record<string, unknown> | undefined)?.[key];
    if (typeof value === "string") pairs.push([path, value]);
  }
  return pairs;
}
