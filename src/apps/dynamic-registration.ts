/**
 * RFC 7591 dynamic client registration: the metadata a client sends for
 * itself, checked and normalised (`readRegistrationRequest`), then registered
 * as an app (`registerDynamicClient`) through the one registration path of
 * every app (Clients.create), with `registration = dynamic`. A client may
 * register the code flow only (with its refresh), never client_credentials:
 * it names itself, so it gets the scopes and connectors of a public app the
 * CLI registers with defaults, or fewer when it asks for fewer.
 *
 * Identical public registrations are one app: MCP clients register again on
 * every start, and each would otherwise leave a row behind. A confidential
 * registration is always new, since its secret is shown once only.
 */
import { createHash } from "node:crypto";
import type { Db } from "../db.js";
import { InvalidClientMetadata, InvalidRedirectUri, ValidationFailed } from "../errors.js";
import { checkRedirectUriFor, DEFAULT_CLIENT_SCOPES, type ApplicationType, type Client, type Clients } from "./clients.js";

/** The methods a self-registered client may use: public (PKCE) or a secret the broker issues. */
const METHODS = ["none", "client_secret_basic", "client_secret_post"] as const;
type DynamicMethod = (typeof METHODS)[number];
const GRANTS = ["authorization_code", "refresh_token"];
const MAX_REDIRECT_URIS = 20;
const MAX_URI_LENGTH = 2_000;

/** The registration request, checked and normalised: what is stored, answered and compared for dedupe. */
export interface RegistrationMetadata {
  application_type: ApplicationType;
  redirect_uris: string[];
  token_endpoint_auth_method: DynamicMethod;
  grant_types: string[];
  response_types: string[];
  client_name?: string;
  client_uri?: string;
  logo_uri?: string;
  scope: string;
}

function optionalHttpsUrl(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length > MAX_URI_LENGTH)
    throw new InvalidClientMetadata(`${name} must be a URL of at most ${MAX_URI_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidClientMetadata(`${name} is not a URL`);
  }
  if (url.protocol !== "https:") throw new InvalidClientMetadata(`${name} must be an https URL`);
  return value;
}

function stringList(value: unknown, name: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) throw new InvalidClientMetadata(`${name} must be an array of strings`);
  return value as string[];
}

/**
 * The application type of a request that names none. OpenID Connect
 * Registration says "web", but RFC 7591 has no such member and MCP clients
 * (desktop agents, CLIs) send none while registering loopback redirect
 * URIs: a request whose every redirect URI is not https is taken for a
 * native app, and is then held to the native rules (loopback IP or a
 * private-use scheme); any https redirect URI makes it a web app.
 */
function impliedApplicationType(redirectUris: string[]): ApplicationType {
  return redirectUris.every((uri) => !uri.startsWith("https:")) ? "native" : "web";
}

/**
 * Reads an RFC 7591 §2 registration request: redirect URIs by the rules of
 * every app and of their application type (`invalid_redirect_uri`), the rest
 * `invalid_client_metadata`. Unknown members are ignored (RFC 7591 §2).
 * `scope` may name the scopes a public app gets and those of registered
 * resources (an MCP client registers with its server's scopes_supported).
 */
export function readRegistrationRequest(body: unknown, resourceScopes: ReadonlySet<string> = new Set()): RegistrationMetadata {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new InvalidClientMetadata("the registration request must be a JSON object");
  const m = body as Record<string, unknown>;

  const redirectUris = stringList(m.redirect_uris, "redirect_uris");
  if (!redirectUris || redirectUris.length === 0) throw new InvalidRedirectUri("redirect_uris is required: the code flow sends its answer there");

  const applicationType = m.application_type ?? impliedApplicationType(redirectUris);
  if (applicationType !== "web" && applicationType !== "native") throw new InvalidClientMetadata('application_type must be "web" or "native"');
  if (redirectUris.length > MAX_REDIRECT_URIS) throw new InvalidRedirectUri(`at most ${MAX_REDIRECT_URIS} redirect_uris`);
  for (const uri of redirectUris) {
    if (uri.length > MAX_URI_LENGTH) throw new InvalidRedirectUri(`a redirect URI is longer than ${MAX_URI_LENGTH} characters`);
    const problem = checkRedirectUriFor(applicationType, uri);
    if (problem) throw new InvalidRedirectUri(`redirect URI ${problem}`);
  }

  // RFC 7591 §2: the defaults are client_secret_basic, authorization_code and code.
  const method = m.token_endpoint_auth_method ?? "client_secret_basic";
  if (!METHODS.includes(method as DynamicMethod))
    throw new InvalidClientMetadata(`token_endpoint_auth_method must be one of ${METHODS.join(", ")} (private_key_jwt apps are registered by the operator)`);
  const grantTypes = [...new Set(stringList(m.grant_types, "grant_types") ?? ["authorization_code"])].sort();
  if (!grantTypes.includes("authorization_code") || grantTypes.some((g) => !GRANTS.includes(g)))
    throw new InvalidClientMetadata("grant_types must include authorization_code and may add refresh_token, nothing else");
  const responseTypes = [...new Set(stringList(m.response_types, "response_types") ?? ["code"])];
  if (responseTypes.length !== 1 || responseTypes[0] !== "code") throw new InvalidClientMetadata('response_types must be ["code"]');

  const name = m.client_name;
  if (name !== undefined && (typeof name !== "string" || !name.trim() || name.length > 200))
    throw new InvalidClientMetadata("client_name must be a non-empty string of at most 200 characters");

  if (m.scope !== undefined && typeof m.scope !== "string") throw new InvalidClientMetadata("scope must be a space-separated string");
  const scopes = m.scope === undefined ? DEFAULT_CLIENT_SCOPES : m.scope.split(" ").filter(Boolean);
  const beyond = scopes.find((s) => !DEFAULT_CLIENT_SCOPES.includes(s) && !resourceScopes.has(s));
  if (beyond !== undefined)
    throw new InvalidClientMetadata(
      `scope "${beyond}" cannot be registered dynamically; allowed: ${DEFAULT_CLIENT_SCOPES.join(" ")} and the scopes of registered resources`,
    );

  return {
    application_type: applicationType,
    redirect_uris: redirectUris,
    token_endpoint_auth_method: method as DynamicMethod,
    grant_types: grantTypes,
    response_types: responseTypes,
    ...(typeof name === "string" ? { client_name: name.trim() } : {}),
    ...(m.client_uri !== undefined ? { client_uri: optionalHttpsUrl(m.client_uri, "client_uri") } : {}),
    ...(m.logo_uri !== undefined ? { logo_uri: optionalHttpsUrl(m.logo_uri, "logo_uri") } : {}),
    scope: [...new Set(scopes)].sort().join(" "),
  };
}

/** The dedupe key of a public registration: its normalised metadata, keys in a fixed order. */
export function registrationHash(metadata: RegistrationMetadata): string {
  const ordered = Object.fromEntries(Object.entries(metadata).sort(([a], [b]) => a.localeCompare(b)));
  return createHash("sha256").update(JSON.stringify(ordered)).digest("hex");
}

export interface DynamicRegistration {
  client: Client;
  /** The RFC 7591 §3.2.1 response body. */
  response: Record<string, unknown>;
  /** An identical public registration existed: its client is returned, nothing new was made. */
  deduplicated: boolean;
}

/** Name of a client that gave none. */
const UNNAMED = "Unnamed client (dynamic registration)";

function response(client: Client, issuedAt: Date, metadata: RegistrationMetadata, secret?: string): Record<string, unknown> {
  return {
    client_id: client.id,
    client_id_issued_at: Math.floor(issuedAt.getTime() / 1000),
    ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
    ...metadata,
  };
}

/** Registers the client (or finds its identical public registration). */
export async function registerDynamicClient(clients: Clients, db: Db, metadata: RegistrationMetadata): Promise<DynamicRegistration> {
  const isPublic = metadata.token_endpoint_auth_method === "none";
  const hash = isPublic ? registrationHash(metadata) : undefined;
  if (hash) {
    const existing = await db.app.findUnique({ where: { registrationHash: hash } });
    if (existing) {
      const client = await clients.find(existing.id);
      if (client) return { client, response: response(client, existing.createdAt, metadata), deduplicated: true };
    }
  }
  let created;
  try {
    created = await clients.create({
      name: metadata.client_name ?? UNNAMED,
      redirectUris: metadata.redirect_uris,
      isPublic,
      ...(isPublic ? {} : { tokenEndpointAuthMethod: metadata.token_endpoint_auth_method }),
      grantTypes: metadata.grant_types,
      responseTypes: metadata.response_types,
      // The broker's own scopes; a resource's are asked for with its resource indicator, by any app.
      scopes: metadata.scope.split(" ").filter((s) => DEFAULT_CLIENT_SCOPES.includes(s)),
      registration: "dynamic",
      ...(hash ? { registrationHash: hash } : {}),
    });
  } catch (err) {
    if (err instanceof ValidationFailed) throw new InvalidClientMetadata(err.description);
    // The same public registration at the same moment: both get the one app.
    if (hash && (err as { code?: string }).code === "P2002") {
      const existing = await db.app.findUniqueOrThrow({ where: { registrationHash: hash } });
      const client = (await clients.find(existing.id))!;
      return { client, response: response(client, existing.createdAt, metadata), deduplicated: true };
    }
    throw err;
  }
  const row = await db.app.findUniqueOrThrow({ where: { id: created.client.id }, select: { createdAt: true } });
  return { client: created.client, response: response(created.client, row.createdAt, metadata, created.secret), deduplicated: false };
}
