/**
 * Building the KindContext an auth kind works with: the connector, the
 * broker's client credentials there, the callback URL, the scopes, the
 * hostname of a per-server account, and an upstream fetch that is
 * SSRF-checked, pinned to the address a per-server hostname was checked to
 * resolve to, and refuses plain http except to hosts the operator allowed.
 */
import { CALLBACK_PATH } from "../paths.js";
import type { Db } from "../db.js";
import type { Keyring } from "../crypto/keyring.js";
import type { CidrList } from "../net/cidr-list.js";
import { ForbiddenHostError, type CheckedAddress } from "../net/outbound.js";
import { resolveConnectorCredentials, type UpstreamClientCredentials } from "./credentials.js";
import { usesClientCredentials } from "./kinds/catalog.js";
import { ConnectorNotConfigured } from "./errors.js";
import type { KindContext, SharedTokenCache, UpstreamFetch } from "./kinds/types.js";
import type { Redis } from "../redis.js";
import { RedisSharedTokens } from "./shared-tokens.js";
import { templateFieldValues, type ConnectorConfig } from "./schema.js";
import { fillTemplate, fillWithToken, isPerServer } from "./template.js";
import { serverHost } from "./host.js";
import { withSampleValues } from "./schema-fields.js";

/** Where the broker's redirect URIs at upstreams start: one per connector, and per server for per-server connectors. */

/**
 * The path of the broker's redirect URI at a connector's upstream:
 * `/connect/callback/<connector>`, and `/connect/callback/<connector>/<host>`
 * for a per-server connector. Distinct per upstream so that an authorization
 * response can only arrive where its own upstream sends it: the callback
 * checks the path against the connect attempt, so a response an attacker's
 * server relays to another connector's callback is refused (the mix-up
 * attack, RFC 9700 §4.4), PKCE aside. `:` is kept as is (allowed in a path);
 * an IPv6 literal's brackets are percent-encoded.
 */
export function callbackPathFor(connectorId: string, hostname?: string): string {
  const base = `${CALLBACK_PATH}/${encodeURIComponent(connectorId)}`;
  return hostname === undefined ? base : `${base}/${encodeURIComponent(hostname).replace(/%3A/gi, ":")}`;
}

/** The redirect URI to register at a connector's upstream; for a per-server connector, `{hostname}` stands for each server. */
export function callbackUrlTemplate(issuer: string, connector: { id: string; hostname?: unknown }): string {
  const path = callbackPathFor(connector.id);
  return `${issuer}${connector.hostname === undefined ? path : `${path}/{hostname}`}`;
}

/**
 * Whether plain http to this host is allowed: only an address (or
 * `localhost`) inside BROKER_ALLOW_PRIVATE_HOSTS. A DNS name is never
 * trusted for http, since its answer could change.
 */
export function insecureHostAllowed(hostname: string, allowPrivateHosts: CidrList): boolean {
  const bare = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  const addresses = bare === "localhost" ? ["127.0.0.1", "::1"] : [bare];
  return addresses.every((address) => allowPrivateHosts.includes(address));
}

function sameHost(url: URL, hostname: string): boolean {
  // A server under a path prefix (hostname.pathPrefix) is pinned by its host alone.
  const wanted = serverHost(hostname).toLowerCase();
  return url.host === wanted || url.hostname === wanted;
}

export interface KindContextInput {
  connector: ConnectorConfig;
  credentials?: UpstreamClientCredentials;
  /** BROKER_ISSUER: the callback URL is built from it. */
  issuer: string;
  upstreamScopes: string[];
  /** Per-server connectors: the hostname the end user typed (already checked against hostname.pattern). */
  hostname?: string;
  /** Per-server connectors: the address the hostname was checked to resolve to; requests to that host go there. */
  pinned?: CheckedAddress;
  allowPrivateHosts: CidrList;
  /** The SSRF-safe outbound fetch (services.outbound.fetch). */
  fetch: UpstreamFetch;
  /** For an existing account: the fields kept in its vault (a jwt_bearer subject). */
  fields?: Record<string, string>;
  /** Tokens shared across accounts (client_credentials). */
  sharedTokens?: SharedTokenCache;
  /** A total deadline for the operation's upstream requests (KindContext.signal). */
  signal?: AbortSignal;
}

export function createKindContext(input: KindContextInput): KindContext {
  const { connector, hostname, allowPrivateHosts } = input;
  if (isPerServer(connector) && hostname === undefined) throw new TypeError(`connector "${connector.id}" is per-server: a hostname is required`);
  const httpUrls = templateFieldValues(connector)
    // Only the host is looked at: `{values.…}` are the upstream's answers, an origin value checked when it
    // is read (upstream-values.ts); a `{token}` (identity.url) stands for any token.
    .map(
      ([, template]) =>
        new URL(fillWithToken(withSampleValues(template), "token", (t) => fillTemplate(t, { hostname, pathPrefix: connector.hostname?.pathPrefix }))),
    )
    .filter((url) => url.protocol === "http:");
  const refused = httpUrls.find((url) => !insecureHostAllowed(url.hostname, allowPrivateHosts));
  if (refused) {
    throw new ConnectorNotConfigured(
      connector.id,
      `connector "${connector.id}" uses http://${refused.host}, which is allowed only for addresses in BROKER_ALLOW_PRIVATE_HOSTS`,
    );
  }
  const fetch: UpstreamFetch = async (url, init = {}) => {
    const target = new URL(url);
    // Discovery may name other endpoints than the file: http stays limited to allowed addresses wherever it comes from.
    if (target.protocol === "http:" && !insecureHostAllowed(target.hostname, allowPrivateHosts)) {
      throw new ForbiddenHostError(`${connector.name} must be reached over https (http://${target.host} is not in BROKER_ALLOW_PRIVATE_HOSTS)`);
    }
    const pinned = input.pinned && hostname !== undefined && sameHost(target, hostname) ? input.pinned : init.pinned;
    const signal = input.signal && init.signal ? AbortSignal.any([input.signal, init.signal]) : (input.signal ?? init.signal);
    return input.fetch(target, { ...init, pinned, signal });
  };
  return {
    connector,
    credentials: input.credentials,
    callbackUrl: `${input.issuer}${callbackPathFor(connector.id, hostname)}`,
    upstreamScopes: input.upstreamScopes,
    hostname,
    allowInsecure: httpUrls.length > 0,
    fetch,
    fields: input.fields,
    sharedTokens: input.sharedTokens,
    signal: input.signal,
  };
}

export interface KindContextServices {
  config: { issuer: string; allowPrivateHosts: CidrList };
  db: Db;
  keyring: Keyring;
  outbound: { fetch: UpstreamFetch };
  /** With Redis, client_credentials tokens are shared by every account of a connector app. */
  redis?: Redis;
}

/**
 * The KindContext for an app's operation at a connector, with the
 * connector's client credentials for that app resolved (throws
 * ConnectorNotConfigured when there are none).
 */
export async function buildKindContext(
  services: KindContextServices,
  input: {
    connector: ConnectorConfig;
    appId: string;
    upstreamScopes?: string[];
    hostname?: string;
    pinned?: CheckedAddress;
    fields?: Record<string, string>;
    signal?: AbortSignal;
  },
): Promise<KindContext> {
  const credentials = usesClientCredentials(input.connector)
    ? await resolveConnectorCredentials(services, input.connector, input.appId, input.hostname)
    : undefined;
  return createKindContext({
    connector: input.connector,
    credentials,
    issuer: services.config.issuer,
    upstreamScopes: input.upstreamScopes ?? [],
    hostname: input.hostname,
    pinned: input.pinned,
    allowPrivateHosts: services.config.allowPrivateHosts,
    fetch: services.outbound.fetch,
    fields: input.fields,
    sharedTokens: services.redis ? new RedisSharedTokens(services.redis, services.keyring) : undefined,
    signal: input.signal,
  });
}
