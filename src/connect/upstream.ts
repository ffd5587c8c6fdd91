/**
 * The connect flow's view of the connector engine: the auth kind of a
 * connector with the capability the flow needs, and the context to call it
 * with (the app's client credentials at the upstream, the callback URL, the
 * SSRF-safe fetch).
 */
import type { Services } from "../services.js";
import type { ConnectorConfig } from "../connectors/schema.js";
import { buildKindContext } from "../connectors/context.js";
import { isRedirectAuthorizer, type AuthKind, type KindContext, type RedirectAuthorizer } from "../connectors/kinds/types.js";
import { InvalidRequest } from "../errors.js";

export function redirectAuthorizerFor(services: Pick<Services, "kinds">, connector: ConnectorConfig): AuthKind & RedirectAuthorizer {
  const kind = services.kinds.for(connector);
  if (!isRedirectAuthorizer(kind)) throw new InvalidRequest(`connector "${connector.id}" does not connect through an upstream sign-in page`);
  return kind;
}

/** `hostname` and `pinnedAddress`: a per-server connect's checked host and the address every request to it goes to. */
export function kindContext(
  services: Services,
  connector: ConnectorConfig,
  appId: string,
  upstreamScopes: string[],
  hostname?: string,
  pinnedAddress?: string,
): Promise<KindContext> {
  const pinned = pinnedAddress ? { address: pinnedAddress, family: pinnedAddress.includes(":") ? (6 as const) : (4 as const) } : undefined;
  return buildKindContext(services, { connector, appId, upstreamScopes, hostname, pinned });
}
