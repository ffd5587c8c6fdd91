/**
 * RFC 9728 protected resource metadata: what a client that holds no token
 * yet learns from a resource — which authorization server issues its tokens,
 * its scopes, how to present a token. The broker serves the documents of the
 * resources it is itself: its own APIs (the issuer) at
 * `/.well-known/oauth-protected-resource`, and the proxy at
 * `/.well-known/oauth-protected-resource/v1/proxy` (§3.1: the well-known
 * segment between host and the resource's path). Their 401 challenges point
 * there (`resource_metadata`, §5.1). A registered resource server serves its
 * own document, made by `protectedResourceMetadata` (the resource-server helper).
 */
import { PROTECTED_RESOURCE_METADATA_PATH, PROXY_PATH } from "../paths.js";
import { sendDocument } from "../http/json.js";
import type { Exchange } from "../http/route.js";
import type { Services } from "../services.js";
import { proxyResource } from "./resources.js";
import { BROKER_SCOPES } from "./scopes.js";

/** RFC 9728 §2: the metadata of a protected resource (the fields the broker fills). */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported: string[];
  bearer_methods_supported: string[];
  resource_name: string;
}

/** The metadata document of a resource whose tokens `issuer` issues (bearer tokens in the Authorization header only, RFC 6750 §2.1). */
export function protectedResourceMetadata(input: { resource: string; issuer: string; scopes: readonly string[]; name: string }): ProtectedResourceMetadata {
  return {
    resource: input.resource,
    authorization_servers: [input.issuer],
    scopes_supported: [...input.scopes],
    bearer_methods_supported: ["header"],
    resource_name: input.name,
  };
}

/**
 * RFC 9728 §3.1: where a resource's metadata is, by its URI: the well-known
 * segment inserted between the host and the resource's path (none for a URI
 * without a path). Query strings are kept as RFC 9728 says; fragments never occur.
 */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === "/" ? "" : url.pathname;
  return `${url.origin}${PROTECTED_RESOURCE_METADATA_PATH}${path}${url.search}`;
}

/** The `resource_metadata` URL the broker's own APIs' challenges carry (RFC 9728 §5.1). */
export function brokerResourceMetadataUrl(issuer: string): string {
  return `${issuer}${PROTECTED_RESOURCE_METADATA_PATH}`;
}

/** The `resource_metadata` URL the proxy's challenges carry. */
export function proxyResourceMetadataUrl(issuer: string): string {
  return `${issuer}${PROTECTED_RESOURCE_METADATA_PATH}${PROXY_PATH}`;
}

function sendMetadata(exchange: Exchange, metadata: ProtectedResourceMetadata): void {
  exchange.res.setHeader("Cache-Control", "public, max-age=300");
  sendDocument(exchange.req, exchange.res, JSON.stringify(metadata), "application/json; charset=utf-8");
}

/** `GET /.well-known/oauth-protected-resource`: the broker's own APIs (accounts API, userinfo; tokens issued without `resource`). */
export function brokerResourceMetadataEndpoint(services: Pick<Services, "config">): (exchange: Exchange) => Promise<void> {
  const { issuer } = services.config;
  const metadata = protectedResourceMetadata({ resource: issuer, issuer, scopes: BROKER_SCOPES, name: "authbroker API" });
  return async (exchange) => sendMetadata(exchange, metadata);
}

/** `GET /.well-known/oauth-protected-resource/v1/proxy`: the proxy, as the built-in resource. */
export function proxyResourceMetadataEndpoint(services: Pick<Services, "config">): (exchange: Exchange) => Promise<void> {
  const { issuer } = services.config;
  const proxy = proxyResource(issuer);
  const metadata = protectedResourceMetadata({ resource: proxy.uri, issuer, scopes: proxy.scopes, name: proxy.name });
  return async (exchange) => sendMetadata(exchange, metadata);
}
