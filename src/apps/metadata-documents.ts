/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
 * as the MCP authorization spec of 2025-11-25 uses them): a client_id that is
 * an https URL names a JSON document, served there by the client, that holds
 * its metadata (RFC 7591 names). An agent needs no registration step: the
 * broker fetches the document when the client first shows up, checks it, and
 * keeps an App row for it (accounts and grants reference apps), refreshed
 * from the document whenever its cached copy expires.
 *
 * The fetch is an outbound request chosen by whoever types the client_id:
 * it goes through the outbound client (address policy, no redirects
 * followed), with a short timeout and a small size cap, and the answer must
 * be JSON. Documents are cached per process by their HTTP caching headers
 * (http-cache-semantics, as a shared cache), between MIN_CACHE_MS and
 * MAX_CACHE_MS; `no-store`, `no-cache` and `private` are never cached. A
 * document that cannot be fetched or is invalid fails closed: the client is
 * refused (invalid_client), even if an earlier copy was valid.
 */
import CachePolicy from "http-cache-semantics";
import { LRUCache } from "lru-cache";
import type { Db } from "../db.js";
import { recordAudit } from "../audit.js";
import { InvalidClient } from "../errors.js";
import { ForbiddenHostError, type Outbound } from "../net/outbound.js";
import type { Services } from "../services.js";
import { checkRedirectUri, DEFAULT_CLIENT_SCOPES, MAX_CLIENT_ID_LENGTH, toClient, type Client, type Clients } from "./clients.js";

/** The largest document read: the draft suggests 5 KB; a real one is well under 1 KB. */
export const MAX_DOCUMENT_BYTES = 5 * 1024;
/** How long one fetch may take, connection to last byte. */
export const FETCH_TIMEOUT_MS = 5_000;
/** Bounds of how long a cacheable document is reused: at least a minute (no refetch storm), at most a day (changes are seen). */
export const MIN_CACHE_MS = 60_000;
export const MAX_CACHE_MS = 24 * 3600_000;
/** Documents kept in memory; the least recently used is forgotten first. */
const MAX_CACHED = 1_000;

/** The grants a metadata-document client may declare: the code flow and its refresh (it is public: no client_credentials). */
const DOCUMENT_GRANT_TYPES = ["authorization_code", "refresh_token"];
/** The methods the draft lets a document name that the broker refuses, with why. */
const REFUSED_METHODS: Record<string, string> = {
  client_secret_basic: "a document is public, so it cannot carry a shared secret",
  client_secret_post: "a document is public, so it cannot carry a shared secret",
  client_secret_jwt: "a document is public, so it cannot carry a shared secret",
  private_key_jwt: "private_key_jwt with a document's jwks or jwks_uri is not supported by this broker: use none with PKCE",
};

/** Whether a client_id names a metadata document rather than an app registered with the broker (whose ids are `app_…`). */
export function isMetadataDocumentClientId(clientId: string): boolean {
  return clientId.startsWith("https://") || clientId.startsWith("http://");
}

/**
 * The problem with a client_id as a metadata document URL, or undefined:
 * https with a path, no credentials or fragment, and written in its
 * normalised form (no dot segments, lower-case host, no default port), since
 * the document must repeat it exactly. Never plain http, not even in
 * development: a document on a private CA's server is reached with
 * BROKER_OUTBOUND_CA_FILE (and BROKER_ALLOW_PRIVATE_HOSTS for its address).
 */
export function checkMetadataDocumentUrl(clientId: string): string | undefined {
  if (clientId.length > MAX_CLIENT_ID_LENGTH) return `is longer than ${MAX_CLIENT_ID_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    return "is not a URL";
  }
  if (url.protocol !== "https:") return "must be an https URL";
  if (url.username || url.password) return "must not contain a user name or password";
  if (url.hash || clientId.includes("#")) return "must not contain a fragment";
  if (url.pathname === "/") return "must have a path (https://host/path/to/client.json)";
  if (url.href !== clientId) return `must be written in its normalised form (${url.href}): no dot segments, lower-case host, no default port`;
  return undefined;
}

/** What the broker keeps of a valid document. */
interface DocumentMetadata {
  name: string;
  redirectUris: string[];
  grantTypes: string[];
}

/** Checks a parsed document against its URL; throws `InvalidClient` naming the problem. */
export function readDocument(clientId: string, document: unknown): DocumentMetadata {
  const refuse = (problem: string) => refused(clientId, problem);
  if (typeof document !== "object" || document === null || Array.isArray(document)) throw refuse("is not a JSON object");
  const d = document as Record<string, unknown>;
  if (d.client_id !== clientId) throw refuse(`names client_id ${JSON.stringify(d.client_id ?? null)}, not its own URL`);
  if ("client_secret" in d || "client_secret_expires_at" in d) throw refuse("contains a client_secret: a metadata document is public");
  const method = d.token_endpoint_auth_method ?? "none";
  if (method !== "none")
    throw refuse(`token_endpoint_auth_method ${JSON.stringify(method)} is not accepted: ${REFUSED_METHODS[String(method)] ?? "only none is"}`);
  const redirectUris = d.redirect_uris;
  if (!Array.isArray(redirectUris) || redirectUris.length === 0) throw refuse("has no redirect_uris");
  for (const uri of redirectUris) {
    if (typeof uri !== "string") throw refuse("has a redirect_uris entry that is not a string");
    const problem = checkRedirectUri(uri);
    if (problem) throw refuse(`has an invalid redirect URI: ${problem}`);
  }
  // RFC 7591 §2: grant_types defaults to authorization_code, response_types to code.
  const grantTypes = d.grant_types ?? ["authorization_code"];
  if (!Array.isArray(grantTypes) || !grantTypes.includes("authorization_code") || grantTypes.some((g) => !DOCUMENT_GRANT_TYPES.includes(g as string)))
    throw refuse(`grant_types must include authorization_code and may add refresh_token, nothing else`);
  const responseTypes = d.response_types ?? ["code"];
  if (!Array.isArray(responseTypes) || responseTypes.length !== 1 || responseTypes[0] !== "code") throw refuse(`response_types must be ["code"]`);
  const host = new URL(clientId).host;
  const name = d.client_name === undefined ? host : d.client_name;
  if (typeof name !== "string" || !name.trim() || name.length > 200) throw refuse("client_name must be a non-empty string of at most 200 characters");
  return { name: name.trim(), redirectUris: redirectUris as string[], grantTypes: [...new Set(grantTypes as string[])] };
}

function refused(clientId: string, problem: string, cause?: unknown): InstanceType<typeof InvalidClient> {
  return new InvalidClient(`the client metadata document at ${clientId} ${problem}`, cause === undefined ? undefined : { cause });
}

/** Reads at most `limit` bytes of a body; more is an error. */
async function readCapped(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Buffer | undefined> {
  if (!body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
}

/** How long a fetched document may be reused (0: not at all), from its caching headers. */
export function cacheMillis(url: string, status: number, headers: Headers): number {
  const policy = new CachePolicy({ url, method: "GET", headers: {} }, { status, headers: Object.fromEntries(headers) }, { shared: true });
  if (!policy.storable()) return 0;
  const cacheControl = headers.get("cache-control") ?? "";
  // storable() is true for no-cache (reuse only after revalidation): the broker does not revalidate, so it refetches.
  if (/(^|[\s,])no-cache([\s,=]|$)/i.test(cacheControl)) return 0;
  return Math.min(Math.max(policy.timeToLive(), MIN_CACHE_MS), MAX_CACHE_MS);
}

export class ClientMetadataDocuments {
  private readonly cached = new LRUCache<string, Client>({ max: MAX_CACHED });
  /** Fetches under way: concurrent requests for one document share one fetch. */
  private readonly fetching = new Map<string, Promise<Client>>();

  constructor(
    private readonly db: Db,
    private readonly outbound: Pick<Outbound, "fetch">,
    private readonly clients: Pick<Clients, "invalidate">,
  ) {}

  /** The client a metadata document URL names, fetched and checked unless a fresh copy is cached; throws `InvalidClient`. */
  client(clientId: string): Promise<Client> {
    const problem = checkMetadataDocumentUrl(clientId);
    if (problem) return Promise.reject(new InvalidClient(`a client_id that is a URL names a client metadata document, and this one ${problem}`));
    const hit = this.cached.get(clientId);
    if (hit) return Promise.resolve(hit);
    const under = this.fetching.get(clientId);
    if (under) return under;
    const fetching = this.load(clientId).finally(() => this.fetching.delete(clientId));
    this.fetching.set(clientId, fetching);
    return fetching;
  }

  /** Forgets every cached document (tests). */
  forget(): void {
    this.cached.clear();
  }

  private async load(clientId: string): Promise<Client> {
    const { metadata, cacheMs } = await this.fetchDocument(clientId);
    const client = await this.store(clientId, metadata);
    if (cacheMs > 0) this.cached.set(clientId, client, { ttl: cacheMs });
    return client;
  }

  private async fetchDocument(clientId: string): Promise<{ metadata: DocumentMetadata; cacheMs: number }> {
    let res: Response;
    let body: Buffer | undefined;
    try {
      res = await this.outbound.fetch(clientId, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => undefined);
        const why = res.status >= 300 && res.status < 400 ? "redirects elsewhere, and redirects are not followed" : `answered HTTP ${res.status}`;
        throw refused(clientId, why);
      }
      const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
      if (type !== "application/json" && !type.endsWith("+json")) {
        await res.body?.cancel().catch(() => undefined);
        throw refused(clientId, `is served as ${type || "no content type"}, not application/json`);
      }
      if (Number(res.headers.get("content-length") ?? 0) > MAX_DOCUMENT_BYTES) {
        await res.body?.cancel().catch(() => undefined);
        throw refused(clientId, `is larger than ${MAX_DOCUMENT_BYTES} bytes`);
      }
      body = await readCapped(res.body, MAX_DOCUMENT_BYTES);
    } catch (err) {
      if (err instanceof InvalidClient) throw err;
      if (err instanceof ForbiddenHostError) throw refused(clientId, `is on a host the broker may not connect to (${err.description})`, err);
      // The connection's own error (refused, reset, TLS) stays in the cause: it would tell a prober about the network beyond.
      const why = (err as Error).name === "TimeoutError" ? `within ${FETCH_TIMEOUT_MS / 1000} s` : "(the connection or the TLS handshake failed)";
      throw refused(clientId, `could not be fetched ${why}`, err);
    }
    if (body === undefined) throw refused(clientId, `is larger than ${MAX_DOCUMENT_BYTES} bytes`);
    let document: unknown;
    try {
      document = JSON.parse(body.toString("utf8"));
    } catch (err) {
      throw refused(clientId, "is not valid JSON", err);
    }
    return { metadata: readDocument(clientId, document), cacheMs: cacheMillis(clientId, res.status, res.headers) };
  }

  /**
   * The App row of the document's client: made on first use (public, method
   * none, PKCE, the scopes and connectors of a public app the CLI registers
   * with defaults), and kept in step with the document's name, redirect URIs
   * and grants on every later fetch.
   */
  private async store(clientId: string, metadata: DocumentMetadata): Promise<Client> {
    const existing = await this.db.app.findUnique({ where: { id: clientId } });
    if (existing && existing.registration !== "metadata_document") throw refused(clientId, "names an app registered otherwise");
    const kept = { name: metadata.name, redirectUris: metadata.redirectUris, grantTypes: metadata.grantTypes };
    let row = existing;
    if (!row) {
      try {
        row = await this.db.app.create({
          data: {
            id: clientId,
            ...kept,
            isPublic: true,
            secretHash: null,
            tokenEndpointAuthMethod: "none",
            responseTypes: ["code"],
            scopes: DEFAULT_CLIENT_SCOPES,
            connectors: [],
            requirePkce: true,
            registration: "metadata_document",
          },
        });
        await recordAudit(this.db, {
          action: "app.registered",
          actorType: "app",
          actorId: clientId,
          appId: clientId,
          detail: { registration: "metadata_document" },
        });
      } catch (err) {
        // Another process made it at the same moment: use theirs.
        if ((err as { code?: string }).code !== "P2002") throw err;
        row = await this.db.app.findUniqueOrThrow({ where: { id: clientId } });
      }
    }
    const changed =
      row.name !== kept.name ||
      JSON.stringify(row.redirectUris) !== JSON.stringify(kept.redirectUris) ||
      JSON.stringify(row.grantTypes) !== JSON.stringify(kept.grantTypes);
    if (changed) row = await this.db.app.update({ where: { id: clientId }, data: kept });
    this.clients.invalidate(clientId);
    return toClient(row);
  }
}

/**
 * The client a request names, where a client first shows up (the
 * authorization request, client authentication): an app of the registry, or
 * the client of a metadata document URL, fetched when its cached copy is
 * stale. Elsewhere, `clients.find` reads the App row the document made.
 */
export async function resolveClient(services: Pick<Services, "clients" | "clientMetadataDocuments">, clientId: string): Promise<Client | undefined> {
  if (isMetadataDocumentClientId(clientId)) return services.clientMetadataDocuments.client(clientId);
  return services.clients.find(clientId);
}
