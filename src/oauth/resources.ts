/**
 * Protected resources (RFC 8707 resource indicators, RFC 9728 metadata): the
 * URIs access tokens may be issued for, as data. The operator registers a
 * resource server (an MCP server, an API of their own) with its URI, its
 * name, the scopes it defines and the app that runs it (`authbroker
 * resources create`, the admin API); the broker's proxy is one built in
 * (not a row). A token issued for a resource carries its URI as `aud`, and
 * every other resource refuses it (tokens.ts verifyAccessToken).
 *
 * URIs are compared exactly as registered: nothing is normalised, so the
 * `resource` an app sends must be the registered string, byte for byte.
 */
import { LRUCache } from "lru-cache";
import type { Db } from "../db.js";
import { Conflict, NotFound, ValidationFailed } from "../errors.js";
import type { Resource } from "../generated/prisma/client.js";
import { BROKER_SCOPES, parseScope } from "./scopes.js";

/** The proxy's resource URI: a token issued for it is accepted by the proxy and by nothing else of the broker. */
export function proxyResourceUri(issuer: string): string {
  return `${issuer}/v1/proxy`;
}

/** The longest resource URI the broker registers (as long as a metadata-document client id). */
export const MAX_RESOURCE_URI_LENGTH = 512;
const MAX_RESOURCE_NAME_LENGTH = 200;

/** A resource tokens may be issued for: a registered one, or the built-in proxy. */
export interface ProtectedResource {
  uri: string;
  name: string;
  /** The scopes it defines. */
  scopes: string[];
  /** The app that runs it: it may introspect the resource's tokens. Null for the proxy and for a resource without one. */
  appId: string | null;
  /** The broker's own proxy: its scopes are broker scopes, and the apps' registered scopes apply to them. */
  builtIn: boolean;
}

/** The built-in proxy resource of a broker. */
export function proxyResource(issuer: string): ProtectedResource {
  return { uri: proxyResourceUri(issuer), name: "authbroker proxy", scopes: ["proxy"], appId: null, builtIn: true };
}

/**
 * What is wrong with a resource URI, or undefined when it may be one. RFC
 * 8707 §2: an absolute URI without a fragment. Here https, or http on a
 * loopback host only (a resource server under development); printable ASCII
 * with no space, so the string compared is the string seen.
 */
export function resourceUriProblem(uri: string): string | undefined {
  if (uri.length > MAX_RESOURCE_URI_LENGTH) return `the resource URI is longer than ${MAX_RESOURCE_URI_LENGTH} characters`;
  if (!/^[\x21-\x7E]+$/.test(uri)) return `resource "${uri}" contains a space or a character outside printable ASCII`;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `resource "${uri}" is not an absolute URI (RFC 8707 §2)`;
  }
  if (uri.includes("#")) return `resource "${uri}" must not contain a fragment (RFC 8707 §2)`;
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:" && isLoopback(url.hostname)) return undefined;
  return `resource "${uri}" must use https (http only on a loopback host: 127.0.0.1, [::1], localhost)`;
}

function isLoopback(hostname: string): boolean {
  return hostname === "127.0.0.1" || hostname === "[::1]" || hostname === "localhost";
}

/** The registered resource with this URI, if any (uncached: the hot paths use lookupResource). */
export function findResource(db: Pick<Db, "resource">, uri: string): Promise<Resource | null> {
  return db.resource.findUnique({ where: { uri } });
}

/**
 * Resource rows read lately, per database client, for the authorization and
 * token endpoints and introspection: one query less per request. Five
 * seconds: a deleted resource stops getting tokens from every process within
 * that (this process at once, deleteResource forgets it).
 */
const LOOKUP_TTL_MS = 5_000;
const lookups = new WeakMap<object, LRUCache<string, { row: Resource | null }>>();

function lookupsOf(db: object): LRUCache<string, { row: Resource | null }> {
  let cache = lookups.get(db);
  if (!cache) lookups.set(db, (cache = new LRUCache({ max: 1_000, ttl: LOOKUP_TTL_MS })));
  return cache;
}

/** The resource tokens for `uri` are for: the built-in proxy, a registered resource (cached briefly), or undefined. */
export async function lookupResource(services: { db: Pick<Db, "resource">; config: { issuer: string } }, uri: string): Promise<ProtectedResource | undefined> {
  if (uri === proxyResourceUri(services.config.issuer)) return proxyResource(services.config.issuer);
  const cache = lookupsOf(services.db);
  let hit = cache.get(uri);
  if (!hit) {
    hit = { row: await findResource(services.db, uri) };
    cache.set(uri, hit);
  }
  return hit.row ? { uri: hit.row.uri, name: hit.row.name, scopes: hit.row.scopes, appId: hit.row.appId, builtIn: false } : undefined;
}

/** What the CLI and the admin API show of a resource. */
export function resourceView(row: Resource) {
  return { uri: row.uri, name: row.name, scopes: row.scopes, app_id: row.appId, created_at: row.createdAt.toISOString() };
}
export type ResourceView = ReturnType<typeof resourceView>;

export interface CreateResourceInput {
  uri: string;
  /** Shown to the end user when an app asks for a token for it. @defaultValue the URI */
  name?: string;
  scopes: string[];
  /** The client id of the app that runs it. */
  appId?: string;
}

/**
 * The identity scopes: about the end user, granted with any resource's
 * scopes (their claims come from the broker's ID token and userinfo), so a
 * resource never defines them.
 */
export const IDENTITY_SCOPES: readonly string[] = ["openid", "profile", "email", "offline_access"];

/**
 * Registers a resource. Refused (ValidationFailed): a URI that is not one
 * (resourceUriProblem), the broker's own URIs (the issuer names its APIs, the
 * proxy is built in), no scopes, a scope RFC 6749 §3.3 does not allow or
 * that is a broker scope (those name the broker's own APIs, which refuse
 * the resource's tokens), an unknown app. Conflict: the URI is registered.
 */
export async function createResource(db: Db, issuer: string, input: CreateResourceInput): Promise<ResourceView> {
  const problem = resourceUriProblem(input.uri);
  if (problem) throw new ValidationFailed(problem);
  if (input.uri === issuer || input.uri === proxyResourceUri(issuer))
    throw new ValidationFailed(`resource "${input.uri}" is the broker's own (its APIs, or its proxy, which is built in)`);
  const name = input.name ?? input.uri;
  if (name.length === 0 || name.length > MAX_RESOURCE_NAME_LENGTH) throw new ValidationFailed(`the name must have 1 to ${MAX_RESOURCE_NAME_LENGTH} characters`);
  let scopes: string[];
  try {
    scopes = parseScope(input.scopes.join(" "));
  } catch {
    throw new ValidationFailed("a scope contains a space or a character RFC 6749 §3.3 does not allow");
  }
  if (scopes.length === 0) throw new ValidationFailed("a resource needs at least one scope");
  const brokerScope = scopes.find((s) => (BROKER_SCOPES as readonly string[]).includes(s));
  if (brokerScope)
    throw new ValidationFailed(
      IDENTITY_SCOPES.includes(brokerScope)
        ? `scope "${brokerScope}" is an identity scope, which every resource's tokens may carry: leave it out`
        : `scope "${brokerScope}" is a broker scope (the broker's own APIs refuse a resource's tokens): choose another name`,
    );
  if (input.appId !== undefined && !(await db.app.findUnique({ where: { id: input.appId }, select: { id: true } })))
    throw new ValidationFailed(`no app ${input.appId}`);
  try {
    const row = await db.resource.create({ data: { uri: input.uri, name, scopes, appId: input.appId ?? null } });
    lookupsOf(db).delete(row.uri);
    return resourceView(row);
  } catch (err) {
    if ((err as { code?: string }).code === "P2002") throw new Conflict(`resource ${input.uri} is already registered`);
    throw err;
  }
}

export async function listResources(db: Pick<Db, "resource">): Promise<ResourceView[]> {
  return (await db.resource.findMany({ orderBy: { createdAt: "asc" } })).map(resourceView);
}

/**
 * Deletes a resource: from now on no token is issued for it (this process at
 * once, the others within the lookup cache's five seconds), and its grants'
 * refresh tokens are refused. Tokens already issued stay valid until they
 * expire: the resource server verifies them itself.
 */
export async function deleteResource(db: Pick<Db, "resource">, uri: string): Promise<ResourceView> {
  const row = await findResource(db, uri);
  // Of two concurrent deletes, one deletes and the other is told it is gone.
  const deleted = row ? (await db.resource.deleteMany({ where: { uri } })).count : 0;
  lookupsOf(db).delete(uri);
  if (!row || deleted === 0) throw new NotFound(`resource ${uri} is not registered`);
  return resourceView(row);
}
