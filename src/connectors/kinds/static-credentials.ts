/**
 * `basic` and `api_key`: the end user types values the connector declares
 * (a user name and password, an API key, a key id and secret) into the
 * broker's form. They are checked once — a GET of `identity.url` sent the
 * way the proxy will send them (`api.credentials`) — and only values the
 * upstream accepted are kept, sealed, as the account's `fields`.
 */
import { signAwsRequest } from "../aws-sigv4.js";
import { FormValuesRejected, UpstreamInvalidGrant } from "../errors.js";
import { apiCredentialsOf, type ConnectorConfig } from "../schema.js";
import { AWS_KEY_FIELDS } from "../schema-fields.js";
import { fillTemplate } from "../template.js";
import { UpstreamError } from "../../errors.js";
import { fetchIdentityDocumentWith, identityFromProfile, pickPath, USER_AGENT, type IdentityAuthorization } from "./identity.js";
import { hasValues, valuesFromTokenResponse } from "./upstream-values.js";
import { sanitizeUpstreamText, upstreamCall } from "./upstream-errors.js";

/** How long the signed key check waits for the upstream. */
const CHECK_TIMEOUT_MS = 30_000;
import { checkTypedValues } from "./prompt-fields.js";
import type { AuthKind, KindContext, PromptField, Refresher, StaticCredentialChecker, UpstreamIdentity, UpstreamTokens } from "./types.js";

type DeclaredField = Extract<ConnectorConfig["auth"], { kind: "basic" | "api_key" }>["fields"][number];

function declaredFields(connector: ConnectorConfig): DeclaredField[] {
  const auth = connector.auth;
  if (auth.kind !== "basic" && auth.kind !== "api_key") throw new TypeError(`connector "${connector.id}" is ${auth.kind}, not basic or api_key`);
  return auth.fields;
}

/** The HTML autocomplete token: a password manager may fill a basic login, never an API key. */
function autocompleteFor(kind: "basic" | "api_key", field: DeclaredField): string {
  if (kind === "basic") return field.secret ? "current-password" : "username";
  return "off";
}

/** The value a one-value style (bearer, header, query) sends: the first secret field, or the only field. */
function secretValue(fields: DeclaredField[], values: Record<string, string>): string {
  const field = fields.find((f) => f.secret) ?? fields[0]!;
  return values[field.name] ?? "";
}

/** RFC 7617: `user:password`, from `username`/`password` or the first plain and the first secret field. */
function basicPair(fields: DeclaredField[], values: Record<string, string>): [string, string] {
  const user = fields.find((f) => f.name === "username") ?? fields.find((f) => !f.secret);
  const password = fields.find((f) => f.name === "password") ?? fields.find((f) => f.secret && f !== user);
  if (!user) return [values[password!.name] ?? "", ""];
  return [values[user.name] ?? "", password ? (values[password.name] ?? "") : ""];
}

/** The identity request's authorization for typed values, in the connector's style. */
export function authorizationFor(connector: ConnectorConfig, values: Record<string, string>): IdentityAuthorization {
  const fields = declaredFields(connector);
  // Sent the way the proxy will send them (`api.credentials`), so a check that passes means the proxy's calls will.
  const style = apiCredentialsOf(connector);
  if (style === "basic") {
    const [user, password] = basicPair(fields, values);
    // RFC 7617 §2: a colon in the user-id would move part of it into the password.
    if (user.includes(":")) {
      const userField = fields.find((f) => f.name === "username") ?? fields.find((f) => !f.secret);
      throw new FormValuesRejected(`${userField?.label ?? "The user name"} cannot contain a colon`, userField?.name);
    }
    return { headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}` } };
  }
  if (style === "bearer") return { headers: { authorization: `Bearer ${secretValue(fields, values)}` } };
  if (style.startsWith("header:")) return { headers: { [style.slice("header:".length).toLowerCase()]: secretValue(fields, values) } };
  if (style.startsWith("query:")) return { headers: {}, query: { [style.slice("query:".length)]: secretValue(fields, values) } };
  throw new TypeError(`connector "${connector.id}" has api.credentials "${style}", which the schema refuses`);
}

/**
 * `aws_sigv4`: a GET of `identity.url` signed with the typed key must
 * succeed. The access key id is who connected: S3 answers XML, and the
 * owner ListBuckets names is the AWS account (or, on MinIO, the same for
 * every user), which would merge the accounts of different people.
 */
async function checkSignedKey(ctx: KindContext, fields: PromptField[], values: Record<string, string>): Promise<UpstreamIdentity> {
  const { connector } = ctx;
  const signing = connector.api?.signing;
  if (!connector.identity?.url || !signing) throw new TypeError(`connector "${connector.id}" has no identity.url or api.signing to check a key against`);
  const url = new URL(fillTemplate(connector.identity.url, { hostname: ctx.hostname, pathPrefix: connector.hostname?.pathPrefix }));
  const accessKeyId = values[AWS_KEY_FIELDS.accessKeyId] ?? "";
  const headers: Record<string, string | string[]> = { accept: "application/xml", "user-agent": USER_AGENT };
  await signAwsRequest({ method: "GET", url, search: url.search, headers, payload: { kind: "none" } }, signing, {
    accessKeyId,
    secretAccessKey: values[AWS_KEY_FIELDS.secretAccessKey] ?? "",
    sessionToken: values[AWS_KEY_FIELDS.sessionToken] || undefined,
  });
  await upstreamCall(connector, "credential check", async () => {
    const response = await ctx.fetch(url, { headers: headers as Record<string, string>, signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
    const text = await response.text();
    if (response.status === 401 || response.status === 403) {
      const secretField = fields.find((f) => f.name === AWS_KEY_FIELDS.secretAccessKey);
      throw new FormValuesRejected(`${connector.name} did not accept this key (HTTP ${response.status}). Check it and try again.`, secretField?.name);
    }
    if (!response.ok)
      throw new UpstreamError(`${connector.name} answered HTTP ${response.status} to the key check`, {
        detail: `${connector.id} credential check: ${sanitizeUpstreamText(text) ?? "(empty body)"}`,
      });
  });
  return { subject: accessKeyId, name: accessKeyId, profile: {} };
}

type Session = NonNullable<Extract<ConnectorConfig["auth"], { kind: "api_key" }>["session"]>;

function sessionOf(connector: ConnectorConfig): Session | undefined {
  return connector.auth.kind === "api_key" ? connector.auth.session : undefined;
}

/**
 * `auth.session`: the typed key is exchanged for a session token (Backblaze
 * B2's `b2_authorize_account`). The login's JSON answer has the token (at
 * `session.token`), who connected (the `identity` paths) and the
 * connector's `from: token` values (B2's `apiUrl`). A 401 or 403 is the key
 * refused: on the connect form, a FormValuesRejected; at a later login, an
 * UpstreamInvalidGrant (the account must be connected again).
 */
async function logIn(
  ctx: KindContext,
  session: Session,
  fields: DeclaredField[],
  values: Record<string, string>,
  refused: () => Error,
): Promise<{ tokens: UpstreamTokens; document: Record<string, unknown> }> {
  const { connector } = ctx;
  const [user, password] = basicPair(fields, values);
  if (user.includes(":")) throw refused();
  const authorization = `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}`;
  const document = await fetchIdentityDocumentWith(ctx, session.url, { headers: { authorization } }, refused, "credential check");
  const token = pickPath(document, session.token);
  if (typeof token !== "string" || token === "") throw new UpstreamError(`${connector.name}'s login answer has no ${session.token}`);
  const issuedAt = Date.now();
  const tokens: UpstreamTokens = {
    accessToken: token,
    tokenType: "session",
    expiresAt: new Date(issuedAt + session.lifetimeSeconds * 1000),
    expirySource: "connector_default",
  };
  if (hasValues(connector)) tokens.values = valuesFromTokenResponse(ctx, document, true);
  return { tokens, document };
}

function createStaticCredentialKind(kind: "basic" | "api_key"): AuthKind & StaticCredentialChecker & Refresher {
  const credentialFields = (connector: ConnectorConfig): PromptField[] =>
    declaredFields(connector).map((field) => ({
      name: field.name,
      label: field.label,
      secret: field.secret,
      required: true,
      pattern: field.pattern,
      description: field.description,
      autocomplete: autocompleteFor(kind, field),
    }));

  return {
    kind,
    credentialFields,

    needsRefreshToken: false,
    refreshes: (connector) => sessionOf(connector) !== undefined,
    async refresh(ctx) {
      const session = sessionOf(ctx.connector);
      if (!session) throw new TypeError(`connector "${ctx.connector.id}" has no auth.session to log in again with`);
      const refused = () => new UpstreamInvalidGrant(`${ctx.connector.name} no longer accepts the account's key`);
      return (await logIn(ctx, session, declaredFields(ctx.connector), ctx.fields ?? {}, refused)).tokens;
    },

    async startSession(ctx, values) {
      const { connector } = ctx;
      const session = sessionOf(connector);
      if (!session) return undefined;
      const fields = credentialFields(connector);
      checkTypedValues(fields, values);
      const secretField = fields.find((f) => f.secret);
      const refused = () => new FormValuesRejected(`${connector.name} did not accept this key. Check it and try again.`, secretField?.name);
      const { tokens, document } = await logIn(ctx, session, declaredFields(connector), values, refused);
      const identity = connector.identity!;
      return {
        tokens,
        identity: identityFromProfile(ctx, document, {
          subject: identity.subject!,
          email: identity.email,
          emailVerified: identity.emailVerified,
          name: identity.name,
        }),
      };
    },

    async checkCredentials(ctx: KindContext, values): Promise<UpstreamIdentity> {
      const { connector } = ctx;
      const fields = credentialFields(connector);
      checkTypedValues(fields, values);
      if (apiCredentialsOf(connector) === "aws_sigv4") return checkSignedKey(ctx, fields, values);
      const identity = connector.identity;
      if (!identity?.url || !identity.subject) throw new TypeError(`connector "${connector.id}" has no identity.url to check credentials against`);
      const secretField = fields.find((f) => f.secret);
      const document = await fetchIdentityDocumentWith(
        ctx,
        identity.url,
        authorizationFor(connector, values),
        // The field a wrong key is most likely in: the secret one (a typo in a user name reads the same upstream).
        () =>
          new FormValuesRejected(
            `${connector.name} did not accept these credentials. Check them and try again.`,
            fields.length === 1 ? fields[0]!.name : secretField?.name,
          ),
        "credential check",
      );
      return identityFromProfile(ctx, document, {
        subject: identity.subject,
        email: identity.email,
        emailVerified: identity.emailVerified,
        name: identity.name,
      });
    },
  };
}

export function createBasicKind(): AuthKind & StaticCredentialChecker & Refresher {
  return createStaticCredentialKind("basic");
}

export function createApiKeyKind(): AuthKind & StaticCredentialChecker & Refresher {
  return createStaticCredentialKind("api_key");
}
