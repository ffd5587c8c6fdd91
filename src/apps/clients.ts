/**
 * Broker OAuth clients ("apps"): registration and lookup. Lookups are cached
 * in memory for a few seconds, so the token endpoint authenticates a client
 * without a database round trip; a changed or deleted app is seen by every
 * process within that window (and at once by the one that changed it).
 */
import { createPublicKey, type JsonWebKey } from "node:crypto";
import type { TokenLifetimeLimits } from "../config.js";
import type { Db } from "../db.js";
import { generateId, generateSecret, hashSecret } from "../crypto/secrets.js";
import { generateWebhookSecret } from "../crypto/webhook-signature.js";
import { CidrList } from "../net/cidr-list.js";
import { checkWebhookUrl } from "./webhook-url.js";
import type { Keyring } from "../crypto/keyring.js";
import { sealedField } from "../crypto/sealed-fields.js";
import { Conflict, NotFound, ValidationFailed } from "../errors.js";
import type { GrantType } from "../oauth/grants/index.js";

export const RESPONSE_TYPES = ["code", "token", "id_token", "id_token token", "code id_token", "code token", "code id_token token"] as const;

export const CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

/** The methods that present the client secret itself: in the Authorization header or in the form body (RFC 6749 §2.3.1). */
const SECRET_METHODS: readonly ClientAuthMethod[] = ["client_secret_basic", "client_secret_post"];

/**
 * The methods a client may authenticate with. A secret app registered
 * without a method takes the secret either way, as most clients and most
 * documentation send it in the body while RFC 6749 §2.3.1 prefers Basic; an
 * app registered with one of them explicitly (`narrowed`) only that one.
 */
export function acceptedAuthMethods(registered: ClientAuthMethod, narrowed: boolean): readonly ClientAuthMethod[] {
  return SECRET_METHODS.includes(registered) && !narrowed ? SECRET_METHODS : [registered];
}

/** The longest overlap of a secret rotation: a year (a previous secret is meant to end). */
export const MAX_SECRET_OVERLAP_SECONDS = 31_536_000;
/** How long the previous secret keeps working after a rotation unless told otherwise: a day. */
export const DEFAULT_SECRET_OVERLAP_SECONDS = 86_400;

export interface Client {
  id: string;
  name: string;
  isPublic: boolean;
  /** SHA-256 of the secret; null for public clients and private_key_jwt clients. */
  secretHash: string | null;
  /** After a rotation, SHA-256 of the previous secret, accepted until `previousSecretExpiresAt`; null otherwise. */
  previousSecretHash: string | null;
  previousSecretExpiresAt: Date | null;
  /** The method registered (RFC 7591 `token_endpoint_auth_method`). */
  tokenEndpointAuthMethod: ClientAuthMethod;
  /** The methods accepted at the back-channel endpoints (acceptedAuthMethods). */
  tokenEndpointAuthMethods: readonly ClientAuthMethod[];
  redirectUris: string[];
  grantTypes: string[];
  responseTypes: string[];
  scopes: string[];
  /** Connector ids the app may use; empty = all. */
  connectors: string[];
  accessTokenTtl: number;
  refreshTokenTtl: number;
  idTokenTtl: number;
  jwks: unknown;
  allowUpstreamTokens: boolean;
  webhookUrl: string | null;
  /** Whether the code flow needs PKCE; false only for a legacy confidential app registered with the opt-out (see `requiresPkce`). */
  requirePkce: boolean;
  /** How the app came to be (REGISTRATIONS). */
  registration: string;
  /** Dynamic public registrations: the dedupe key of their metadata; null otherwise. */
  registrationHash: string | null;
}

/**
 * How an app came to be: registered by the operator (`cli`: the CLI or the
 * admin API), by itself through RFC 7591 (`dynamic`), or on first use of a
 * client_id that is the URL of its Client ID Metadata Document
 * (`metadata_document`, apps/metadata-documents.ts).
 */
export const REGISTRATIONS = ["cli", "dynamic", "metadata_document"] as const;
export type Registration = (typeof REGISTRATIONS)[number];

/**
 * The app's name as the end user's pages show it. A metadata-document
 * client names itself (client_name is self-asserted, anyone can write any
 * name in a document they host), so the host that serves the document —
 * the one thing about it that is proven — is shown beside the name.
 */
export function appDisplayName(client: Pick<Client, "name" | "registration" | "id">): string {
  if (client.registration !== "metadata_document") return client.name;
  const host = new URL(client.id).host;
  return client.name === host ? host : `${client.name} (${host})`;
}

export interface CreateClientInput {
  name: string;
  redirectUris: string[];
  isPublic?: boolean;
  grantTypes?: string[];
  responseTypes?: string[];
  scopes?: string[];
  connectors?: string[];
  tokenEndpointAuthMethod?: ClientAuthMethod;
  accessTokenTtl?: number;
  refreshTokenTtl?: number;
  idTokenTtl?: number;
  jwks?: unknown;
  allowUpstreamTokens?: boolean;
  webhookUrl?: string;
  /** @defaultValue true; only a confidential app may set false */
  requirePkce?: boolean;
  /** @defaultValue "cli"; metadata-document apps are made by apps/metadata-documents.ts, not here */
  registration?: Exclude<Registration, "metadata_document">;
  /** Dynamic public registrations: the dedupe key of their metadata (unique). */
  registrationHash?: string;
}

/** Lifetimes (seconds) of an app registered without its own, each cut to its limit (TokenLifetimeLimits). */
const DEFAULT_ACCESS_TOKEN_TTL = 3600;
const DEFAULT_REFRESH_TOKEN_TTL = 2_592_000;
const DEFAULT_ID_TOKEN_TTL = 3600;
const MAX_ID_TOKEN_TTL = 31_536_000;
const MIN_TTL = 60;

/**
 * OAuth 2.1 §4.1.1, RFC 9700 §2.1.1: PKCE protects every code flow against
 * code injection, not only public clients'. A confidential app registered
 * before the broker required it may opt out; a public app never can.
 */
export function requiresPkce(client: Pick<Client, "isPublic" | "requirePkce">): boolean {
  return client.isPublic || client.requirePkce;
}

/** Whether the app was registered for this grant; naming a grant the broker does not implement does not compile. */
export function isRegisteredFor(client: Pick<Client, "grantTypes">, grantType: GrantType): boolean {
  return client.grantTypes.includes(grantType);
}

/** The grants of an app registered without a list. An app allowed to read upstream tokens reads them by token exchange (RFC 8693), so it gets that grant. */
function defaultGrantTypes(isPublic: boolean, allowUpstreamTokens: boolean): GrantType[] {
  if (isPublic) return ["authorization_code", "refresh_token"];
  return [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    ...(allowUpstreamTokens ? (["urn:ietf:params:oauth:grant-type:token-exchange"] as const) : []),
  ];
}

/** Broker scopes every app may be registered with (connector scopes are checked against the registry). */
export const DEFAULT_CLIENT_SCOPES = ["openid", "profile", "email", "offline_access", "proxy", "accounts:read"];

/**
 * RFC 8252 §8.3: a loopback redirect URI names the IP literal, not
 * `localhost`, which a hosts file, resolver or firewall may send elsewhere
 * (another interface, another host) where something else listens for the code.
 */
export function isHttpLocalhost(uri: string): boolean {
  try {
    const url = new URL(uri);
    return url.protocol === "http:" && url.hostname === "localhost";
  } catch {
    return false;
  }
}

/** The loopback IP URI to register instead of an `http://localhost` one. */
export function loopbackInsteadOf(uri: string): string {
  const url = new URL(uri);
  url.hostname = "127.0.0.1";
  return url.href;
}

/**
 * RFC 9700 §4.1.3 / RFC 8252 §7.3: redirect URIs are absolute, without a
 * fragment; http only for loopback IP literals (native apps), https otherwise.
 */
export function checkRedirectUri(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `"${uri}" is not an absolute URI`;
  }
  if (url.hash || uri.includes("#")) return `"${uri}" must not contain a fragment`;
  if (isHttpLocalhost(uri)) return `"${uri}" names localhost: use the loopback IP literal, ${loopbackInsteadOf(uri)} (RFC 8252 §8.3)`;
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname))
    return `"${uri}" must use https (http is only allowed for loopback addresses such as 127.0.0.1)`;
  if (url.protocol === "javascript:" || url.protocol === "data:") return `"${uri}" uses a forbidden scheme`;
  return undefined;
}

/** OIDC Dynamic Client Registration §2 `application_type`. */
export type ApplicationType = "web" | "native";

/**
 * A redirect URI of a self-registered client, by its application type: the
 * rules of every app (checkRedirectUri), and for a web application https
 * only (OIDC Registration §2: loopback and custom schemes are a native
 * app's). A native app may use a custom scheme, a loopback IP literal over
 * http, or a claimed https URL (RFC 8252 §7).
 */
export function checkRedirectUriFor(applicationType: ApplicationType, uri: string): string | undefined {
  const problem = checkRedirectUri(uri);
  if (problem) return problem;
  if (applicationType === "web" && new URL(uri).protocol !== "https:")
    return `"${uri}" must use https for a web application; loopback and custom-scheme redirect URIs need application_type "native"`;
  return undefined;
}

export function isLoopbackHost(hostname: string): boolean {
  return hostname === "127.0.0.1" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/**
 * Exact redirect URI matching (RFC 9700 §4.1.1), with the one exception of
 * RFC 8252 §7.3: the port of a loopback IP redirect URI may vary.
 */
export function redirectUriMatches(registered: string[], presented: string): boolean {
  if (registered.includes(presented)) return true;
  let p: URL;
  try {
    p = new URL(presented);
  } catch {
    return false;
  }
  if (p.protocol !== "http:" || !isLoopbackHost(p.hostname)) return false;
  return registered.some((r) => {
    let u: URL;
    try {
      u = new URL(r);
    } catch {
      return false;
    }
    if (u.protocol !== "http:" || u.hostname !== p.hostname) return false;
    u.port = p.port;
    return u.href === p.href;
  });
}

/** Members only a private or symmetric JWK has (RFC 7518 §6). */
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/**
 * An app's JWKS for `private_key_jwt`: a JWK Set of public asymmetric keys.
 * A private key here means the app's secret key was pasted into the broker's
 * registry: refused, so it is never stored.
 */
export function checkClientJwks(jwks: unknown): void {
  // Anything but an object with a `keys` array (null, a string, an array, `{}`) has no array here.
  const keys = (jwks as { keys?: unknown } | null | undefined)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new ValidationFailed('jwks must be a JWK Set: { "keys": [ ... ] } with at least one key');
  for (const [index, key] of keys.entries()) {
    if (typeof key !== "object" || key === null) throw new ValidationFailed(`jwks key ${index + 1} is not a JWK`);
    const jwk = key as Record<string, unknown>;
    if (jwk.kty !== "RSA" && jwk.kty !== "EC" && jwk.kty !== "OKP")
      throw new ValidationFailed(`jwks key ${index + 1}: kty must be RSA, EC or OKP (public keys only)`);
    const secretMember = PRIVATE_JWK_MEMBERS.find((m) => m in jwk);
    if (secretMember) throw new ValidationFailed(`jwks key ${index + 1} contains private key material ("${secretMember}"): register the public key only`);
    // A JWK of the right shape whose values make no key would refuse every assertion of the app later.
    let made;
    try {
      made = createPublicKey({ key: jwk as JsonWebKey, format: "jwk" });
    } catch {
      throw new ValidationFailed(`jwks key ${index + 1} is not a usable public key: its crv, x, y, n or e do not make one`);
    }
    // RFC 7518 §3.3; jose refuses shorter RSA keys when it verifies.
    if ((made.asymmetricKeyDetails?.modulusLength ?? 2048) < 2048) throw new ValidationFailed(`jwks key ${index + 1}: an RSA key must be 2048 bits or longer`);
  }
}

export type AppRow = Omit<Client, "tokenEndpointAuthMethod" | "tokenEndpointAuthMethods"> & {
  tokenEndpointAuthMethod: string;
  authMethodNarrowed: boolean;
  sealedWebhookSecret?: string | null;
  createdAt?: Date;
  updatedAt?: Date;
};

/** The app as the rest of the broker sees it: never the sealed webhook secret. */
export function toClient(row: AppRow): Client {
  const { sealedWebhookSecret: _sealed, createdAt: _created, updatedAt: _updated, authMethodNarrowed, ...client } = row;
  const method = row.tokenEndpointAuthMethod as ClientAuthMethod;
  return { ...client, tokenEndpointAuthMethod: method, tokenEndpointAuthMethods: acceptedAuthMethods(method, authMethodNarrowed) };
}

/** The longest client_id looked up: the broker's own ids are short; a metadata document's URL may be longer (metadata-documents.ts). */
export const MAX_CLIENT_ID_LENGTH = 512;

export class Clients {
  /** Lookups by id, answered or under way: concurrent requests for one id share one query. */
  private readonly cache = new Map<string, { lookup: Promise<Client | undefined>; at: number }>();

  /**
   * `grantTypes` are the grants the token endpoint implements (grants/index.ts
   * GRANT_TYPES), passed in because the grant modules import this one.
   */
  constructor(
    private readonly db: Db,
    private readonly lifetimeLimits: TokenLifetimeLimits,
    private readonly grantTypes: readonly string[],
    private readonly cacheMs = 5_000,
    /** BROKER_ALLOW_PRIVATE_HOSTS: the only addresses a webhook URL may name by http or by a private address. */
    private readonly allowPrivateHosts: CidrList = new CidrList([]),
  ) {}

  /**
   * The client with this id, or undefined. Cached for `cacheMs` (including
   * misses, to blunt id guessing). When an entry expires under load, the
   * requests that arrive before the database answers wait for the one
   * query instead of each sending their own; a failed query is not kept.
   */
  find(id: string): Promise<Client | undefined> {
    const hit = this.cache.get(id);
    if (hit && Date.now() - hit.at < this.cacheMs) return hit.lookup;
    if (id.length > MAX_CLIENT_ID_LENGTH) return Promise.resolve(undefined);
    const lookup = this.db.app.findUnique({ where: { id } }).then((row) => (row ? toClient(row) : undefined));
    if (this.cache.size > 10_000) this.cache.clear();
    const entry = { lookup, at: Date.now() };
    this.cache.set(id, entry);
    lookup.catch(() => {
      if (this.cache.get(id) === entry) this.cache.delete(id);
    });
    return lookup;
  }

  invalidate(id: string): void {
    this.cache.delete(id);
  }

  /**
   * Registers an app. Returns the client secret once (confidential apps with
   * a secret auth method; only its hash is stored) and, with a webhook URL,
   * the webhook signing secret once (sealed: the broker needs it to sign).
   */
  async create(input: CreateClientInput, keyring?: Keyring): Promise<{ client: Client; secret: string | undefined; webhookSecret?: string }> {
    const isPublic = input.isPublic ?? false;
    const method: ClientAuthMethod = isPublic ? "none" : (input.tokenEndpointAuthMethod ?? "client_secret_basic");
    if (!isPublic && method === "none") throw new ValidationFailed("a confidential app needs a client authentication method other than none");
    if (method === "private_key_jwt" && !input.jwks) throw new ValidationFailed("private_key_jwt needs the app's public JWKS");
    if (input.jwks !== undefined) checkClientJwks(input.jwks);
    if (!input.name.trim()) throw new ValidationFailed("name must not be empty");
    const grantTypes = input.grantTypes ?? defaultGrantTypes(isPublic, input.allowUpstreamTokens ?? false);
    for (const g of grantTypes) if (!this.grantTypes.includes(g)) throw new ValidationFailed(`unknown grant type "${g}"; known: ${this.grantTypes.join(", ")}`);
    if (isPublic && isRegisteredFor({ grantTypes }, "client_credentials")) throw new ValidationFailed("a public app cannot use client_credentials");
    if (isPublic && input.requirePkce === false)
      throw new ValidationFailed("a public app cannot opt out of PKCE: only its code_verifier proves the code is its own (RFC 9700 §2.1.1)");
    const responseTypes = (input.responseTypes ?? ["code"]).map((t) => t.split(/\s+/).sort().join(" "));
    const known = RESPONSE_TYPES.map((t) => t.split(" ").sort().join(" "));
    for (const t of responseTypes) if (!known.includes(t)) throw new ValidationFailed(`unknown response type "${t}"; known: ${RESPONSE_TYPES.join(", ")}`);
    const usesRedirect = isRegisteredFor({ grantTypes }, "authorization_code") || responseTypes.some((t) => t !== "code");
    if (usesRedirect && input.redirectUris.length === 0) throw new ValidationFailed("at least one redirect URI is needed for the authorization code flow");
    for (const uri of input.redirectUris) {
      const problem = checkRedirectUri(uri);
      if (problem) throw new ValidationFailed(`redirect URI ${problem}`);
    }
    const { accessTokenMaxTtl, refreshTokenMaxTtl } = this.lifetimeLimits;
    for (const [name, ttl, max, variable] of [
      ["access token", input.accessTokenTtl, accessTokenMaxTtl, " (ACCESS_TOKEN_MAX_TTL_SECONDS)"],
      ["refresh token", input.refreshTokenTtl, refreshTokenMaxTtl, " (REFRESH_TOKEN_MAX_TTL_SECONDS)"],
      ["ID token", input.idTokenTtl, MAX_ID_TOKEN_TTL, ""],
    ] as const) {
      if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < MIN_TTL || ttl > max))
        throw new ValidationFailed(`${name} lifetime must be ${MIN_TTL}..${max} seconds${variable}`);
    }
    if (input.webhookUrl !== undefined) {
      const problem = checkWebhookUrl(input.webhookUrl, this.allowPrivateHosts);
      if (problem) throw new ValidationFailed(`webhook URL ${problem}`);
      if (!keyring) throw new TypeError("a keyring is needed to seal the webhook secret");
    }
    const secret = method === "client_secret_basic" || method === "client_secret_post" ? generateSecret("abs_") : undefined;
    const id = generateId("app", 12);
    // Standard Webhooks' form (whsec_<base64>), so the app's library reads it as it is.
    const webhookSecret = input.webhookUrl !== undefined ? generateWebhookSecret() : undefined;
    const row = await this.db.app.create({
      data: {
        id,
        sealedWebhookSecret: webhookSecret && keyring ? keyring.seal(webhookSecret, { rowId: id, field: sealedField("app", "sealedWebhookSecret") }) : null,
        name: input.name.trim(),
        isPublic,
        secretHash: secret ? hashSecret(secret) : null,
        tokenEndpointAuthMethod: method,
        authMethodNarrowed: input.tokenEndpointAuthMethod !== undefined,
        redirectUris: input.redirectUris,
        grantTypes,
        responseTypes,
        scopes: input.scopes ?? DEFAULT_CLIENT_SCOPES,
        connectors: input.connectors ?? [],
        accessTokenTtl: input.accessTokenTtl ?? Math.min(DEFAULT_ACCESS_TOKEN_TTL, accessTokenMaxTtl),
        refreshTokenTtl: input.refreshTokenTtl ?? Math.min(DEFAULT_REFRESH_TOKEN_TTL, refreshTokenMaxTtl),
        idTokenTtl: input.idTokenTtl ?? DEFAULT_ID_TOKEN_TTL,
        jwks: (input.jwks ?? undefined) as never,
        allowUpstreamTokens: input.allowUpstreamTokens ?? false,
        webhookUrl: input.webhookUrl ?? null,
        requirePkce: input.requirePkce ?? true,
        registration: input.registration ?? "cli",
        registrationHash: input.registrationHash ?? null,
      },
    });
    return { client: toClient(row), secret, webhookSecret };
  }

  /**
   * Gives a confidential app a new client secret, returned once (only its
   * hash is stored). The current secret becomes the previous one and keeps
   * working for `overlapSeconds` (0: it ends now), so the app's deployments
   * can move to the new one without an outage. There is one previous secret:
   * a secret that was already previous when the app is rotated again ends at
   * once. Two rotations at the same moment: one wins, the other is a
   * Conflict, so no secret is handed out that was overwritten unseen.
   */
  async rotateSecret(id: string, overlapSeconds: number = DEFAULT_SECRET_OVERLAP_SECONDS): Promise<{ client: Client; secret: string }> {
    if (!Number.isInteger(overlapSeconds) || overlapSeconds < 0 || overlapSeconds > MAX_SECRET_OVERLAP_SECONDS)
      throw new ValidationFailed(`the overlap must be a whole number of seconds from 0 to ${MAX_SECRET_OVERLAP_SECONDS}`);
    const row = await this.db.app.findUnique({ where: { id } });
    if (!row) throw new NotFound(`app ${id} does not exist`);
    if (row.isPublic) throw new ValidationFailed(`app ${id} is a public client: it has no client secret to rotate`);
    if (!row.secretHash) throw new ValidationFailed(`app ${id} authenticates with ${row.tokenEndpointAuthMethod}: it has no client secret to rotate`);
    const secret = generateSecret("abs_");
    const keepsPrevious = overlapSeconds > 0;
    // Compare-and-set on the current hash: a concurrent rotation makes this one fail rather than both succeed and one secret be lost.
    const { count } = await this.db.app.updateMany({
      where: { id, secretHash: row.secretHash },
      data: {
        secretHash: hashSecret(secret),
        previousSecretHash: keepsPrevious ? row.secretHash : null,
        previousSecretExpiresAt: keepsPrevious ? new Date(Date.now() + overlapSeconds * 1000) : null,
      },
    });
    if (count === 0) throw new Conflict(`the secret of app ${id} was rotated at the same moment by another request; rotate again`);
    this.invalidate(id);
    const updated = await this.db.app.findUniqueOrThrow({ where: { id } });
    return { client: toClient(updated), secret };
  }

  /**
   * Sets, changes or removes (`url` null) an app's webhook URL. A new
   * signing secret is made, and returned once, when the app had none or
   * `rotateSecret` asks; otherwise the app keeps its secret. Removing the
   * URL removes the secret too.
   */
  async setWebhook(
    id: string,
    change: { url: string | null; rotateSecret?: boolean },
    keyring: Keyring,
  ): Promise<{ client: Client; webhookSecret: string | undefined }> {
    const current = await this.db.app.findUnique({ where: { id }, select: { sealedWebhookSecret: true } });
    if (!current) throw new NotFound(`app ${id} does not exist`);
    if (change.url === null && change.rotateSecret) throw new ValidationFailed("a webhook secret cannot be rotated while removing the webhook URL");
    if (change.url !== null) {
      const problem = checkWebhookUrl(change.url, this.allowPrivateHosts);
      if (problem) throw new ValidationFailed(`webhook URL ${problem}`);
    }
    const webhookSecret = change.url !== null && (change.rotateSecret || !current.sealedWebhookSecret) ? generateWebhookSecret() : undefined;
    const row = await this.db.app.update({
      where: { id },
      data: {
        webhookUrl: change.url,
        ...(change.url === null ? { sealedWebhookSecret: null } : {}),
        ...(webhookSecret ? { sealedWebhookSecret: keyring.seal(webhookSecret, { rowId: id, field: sealedField("app", "sealedWebhookSecret") }) } : {}),
      },
    });
    this.invalidate(id);
    return { client: toClient(row), webhookSecret };
  }

  async list(): Promise<Client[]> {
    return (await this.db.app.findMany({ orderBy: { createdAt: "asc" } })).map(toClient);
  }
}

/** What may be shown of an app (CLI, admin API): never its secret hash. An allowlist, so a new column stays private until added here. */
export function appView(client: Client) {
  return {
    client_id: client.id,
    name: client.name,
    type: client.isPublic ? ("public" as const) : ("confidential" as const),
    token_endpoint_auth_method: client.tokenEndpointAuthMethod as string,
    token_endpoint_auth_methods: [...client.tokenEndpointAuthMethods] as string[],
    previous_secret_expires_at: client.previousSecretExpiresAt?.toISOString() ?? null,
    redirect_uris: client.redirectUris,
    grant_types: client.grantTypes,
    response_types: client.responseTypes,
    scopes: client.scopes,
    connectors: client.connectors,
    access_token_ttl: client.accessTokenTtl,
    refresh_token_ttl: client.refreshTokenTtl,
    id_token_ttl: client.idTokenTtl,
    allow_upstream_tokens: client.allowUpstreamTokens,
    webhook_url: client.webhookUrl,
    require_pkce: requiresPkce(client),
    registration: client.registration,
  };
}
