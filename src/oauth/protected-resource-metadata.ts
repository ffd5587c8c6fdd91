/**
 * RFC 9728 protected resource metadata: what a client that holds no token
 * yet learns from a resource — which authorization server issues its tokens,
 * its scopes, how to present a token. The broker serves the documents of the
 * resources it is itself: its own APIs (the issuer) at
 * `/.well-known/oauth-protected-resource`, and the proxy at
 * `/.well-known/oauth-protected-resource/v1/proxy` (§3.1: the well-known
 * segment between host and the resource's path). Their 401 challenges point
 * there (`resource_metadata`, §5.1). A registered resource server serves its
 * own document, made by `protectedResourceMetadata` of src/resource-server/
 * (the same builder these use).
 */
import { PROTECTED_RESOURCE_METADATA_PATH, PROXY_PATH } from "../paths.js";
import { sendDocument } from "../http/json.js";
import type { Exchange } from "../http/route.js";
import type { Services } from "../services.js";
import { proxyResource } from "./resources.js";
import { BROKER_SCOPES } from "./scopes.js";
import { protectedResourceMetadata, type ProtectedResourceMetadata } from "../resource-server/index.js";

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
