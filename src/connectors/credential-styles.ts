/**
 * Putting an account's upstream credential into a request, the way the
 * connector's `api.credentials` says: the proxy's calls, and the identity
 * calls of the token kinds (kinds/identity.ts), so that what says who
 * connected is sent as the proxy will send it. Each style is a small function
 * (after openid-client's `ClientSecretBasic()`-style strategies), chosen
 * once per call by `credentialStyle`.
 *
 * Which stored value is sent:
 * - an access token, when the account has one (oauth2, oidc, jwt_bearer,
 *   client_credentials, password_grant);
 * - otherwise (basic, api_key accounts: what the end user typed) the first
 *   field the connector marks `secret`, or its only field.
 * `basic` sends `username:password` from the fields named `username` and
 * `password` when the account has them (the basic kind's defaults), else the
 * first non-secret and the first secret field; an account with only a
 * token or key sends it as the user name with an empty password (the
 * convention of Stripe-like APIs).
 */
import { BrokerError } from "../errors.js";
import { apiCredentialsOf, type ConnectorConfig } from "./schema.js";
import type { StoredTokens } from "../accounts/vault.js";
import { signAwsRequest, type AwsSigning, type SignedPayload } from "./aws-sigv4.js";
import { AWS_KEY_FIELDS } from "./schema-fields.js";
import type { ProxyRequestBody } from "../proxy/request-body.js";

/**
 * The request being built: its headers (lower-case names) and its query
 * string (`?a=b` or ""), which a style may change; its method, URL and body,
 * which only a signing style reads.
 */
export interface OutgoingCredentialTarget {
  headers: Record<string, string | string[]>;
  search: string;
  readonly method: string;
  readonly url: URL;
  readonly body: ProxyRequestBody;
}

export interface CredentialStyle {
  /** The request header the credential goes in (an app's own value of it is dropped), if any. */
  header?: string;
  /**
   * Adds the credential to the request. Only a signing style returns a
   * promise (the caller awaits it then): the others add a header or a
   * parameter synchronously, so they cost the call no extra turn.
   */
  inject(target: OutgoingCredentialTarget, credentials: StoredTokens): void | Promise<void>;
}

/** The account has nothing this style can send: the end user must connect it again. */
export class NoUsableCredential extends BrokerError {
  override name = "NoUsableCredential";
  constructor(description: string) {
    super(409, "account_needs_reauth", description);
  }
}

/** The values the connector's end users type (basic, api_key), as its kind declares them (credentialFields): what the account keeps besides any token. */
export type FieldList = { name: string; secret: boolean }[];

/** The single secret value of an account: its access token, or its secret field. */
export function secretValue(credentials: StoredTokens, fields: FieldList): string | undefined {
  if (credentials.accessToken) return credentials.accessToken;
  const values = credentials.fields ?? {};
  const field = fields.find((f) => f.secret && values[f.name] !== undefined) ?? (fields.length === 1 ? fields[0] : undefined);
  return field ? values[field.name] : undefined;
}

function required(value: string | undefined, connector: ConnectorConfig): string {
  if (value === undefined || value === "") throw new NoUsableCredential(`the account has no credential to send to ${connector.name}; connect it again`);
  return value;
}

/** RFC 6750 §2.1. */
export function Bearer(connector: ConnectorConfig, fields: FieldList): CredentialStyle {
  return {
    header: "authorization",
    inject(target, credentials) {
      target.headers.authorization = `Bearer ${required(secretValue(credentials, fields), connector)}`;
    },
  };
}

/** RFC 7617. */
export function Basic(connector: ConnectorConfig, fields: FieldList): CredentialStyle {
  return {
    header: "authorization",
    inject(target, credentials) {
      const values = credentials.fields ?? {};
      let user: string | undefined;
      let password: string | undefined;
      if (values.username !== undefined && values.password !== undefined) {
        user = values.username;
        password = values.password;
      } else {
        const userField = fields.find((f) => !f.secret && values[f.name] !== undefined);
        const passwordField = fields.find((f) => f.secret && values[f.name] !== undefined);
        if (userField && passwordField) {
          user = values[userField.name];
          password = values[passwordField.name];
        } else {
          user = required(secretValue(credentials, fields), connector);
          password = "";
        }
      }
      // RFC 7617 §2: the user-id cannot contain a colon; sending it would shift the password.
      if (user === undefined || user.includes(":")) throw new NoUsableCredential(`the account's user name cannot be sent to ${connector.name} with HTTP Basic`);
      target.headers.authorization = `Basic ${Buffer.from(`${user}:${password ?? ""}`, "utf8").toString("base64")}`;
    },
  };
}

/** `header:<Name>`: the secret as the value of a header of the upstream's choosing. */
export function InHeader(connector: ConnectorConfig, fields: FieldList, name: string): CredentialStyle {
  const header = name.toLowerCase();
  return {
    header,
    inject(target, credentials) {
      target.headers[header] = required(secretValue(credentials, fields), connector);
    },
  };
}

/** The raw name of a `name=value` query pair, decoded as application/x-www-form-urlencoded would be. */
function pairName(pair: string): string {
  const eq = pair.indexOf("=");
  const raw = (eq === -1 ? pair : pair.slice(0, eq)).replace(/\+/g, " ");
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * `query:<param>`: the secret as a query parameter. The app's own values of
 * that parameter are removed (it must not choose the credential); the rest
 * of the query is kept byte for byte.
 */
export function InQuery(connector: ConnectorConfig, fields: FieldList, param: string): CredentialStyle {
  return {
    inject(target, credentials) {
      const value = required(secretValue(credentials, fields), connector);
      const kept = target.search
        .replace(/^\?/, "")
        .split("&")
        .filter((pair) => pair !== "" && pairName(pair) !== param);
      kept.push(`${encodeURIComponent(param)}=${encodeURIComponent(value)}`);
      target.search = `?${kept.join("&")}`;
    },
  };
}

const NO_PAYLOAD: SignedPayload = { kind: "none" };
const STREAMED_PAYLOAD: SignedPayload = { kind: "stream" };

/**
 * `aws_sigv4`: every request signed with AWS Signature Version 4 with the
 * end user's access key id and secret (and session token, for temporary
 * credentials). What is signed: connectors/aws-sigv4.ts.
 */
export function AwsSigV4(connector: ConnectorConfig, signing: AwsSigning): CredentialStyle {
  return {
    header: "authorization",
    inject(target, credentials) {
      const values = credentials.fields ?? {};
      const accessKeyId = required(values[AWS_KEY_FIELDS.accessKeyId], connector);
      const secretAccessKey = required(values[AWS_KEY_FIELDS.secretAccessKey], connector);
      const { body } = target;
      const payload = body.kind === "none" ? NO_PAYLOAD : body.kind === "buffered" ? { kind: "bytes" as const, bytes: body.bytes } : STREAMED_PAYLOAD;
      return signAwsRequest({ method: target.method, url: target.url, search: target.search, headers: target.headers, payload }, signing, {
        accessKeyId,
        secretAccessKey,
        sessionToken: values[AWS_KEY_FIELDS.sessionToken] || undefined,
      });
    },
  };
}

/** The style a connector's `api.credentials` names (the schema has checked the spelling), sending the account's token or its `fields`. */
export function credentialStyle(connector: ConnectorConfig, fields: FieldList): CredentialStyle {
  const spec = apiCredentialsOf(connector);
  if (spec === "bearer") return Bearer(connector, fields);
  if (spec === "basic") return Basic(connector, fields);
  if (spec.startsWith("header:")) return InHeader(connector, fields, spec.slice("header:".length));
  if (spec.startsWith("query:")) return InQuery(connector, fields, spec.slice("query:".length));
  if (spec === "aws_sigv4" && connector.api?.signing) return AwsSigV4(connector, connector.api.signing);
  throw new TypeError(`connector "${connector.id}": api.credentials "${spec}" is not a credential style`);
}
