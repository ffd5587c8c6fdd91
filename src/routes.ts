/**
 * The route table: every endpoint of the broker, once, with its method,
 * path, lane, error style, authentication, rate-limit class and CORS
 * (src/http/route.ts says what each means). The HTTP server is assembled
 * from it (src/http/app.ts); the answers no handler writes — preflights,
 * 405 with Allow, 404 — are made from it too, and the authorization matrix
 * test reads it. Adding an endpoint: its handler in its part of the broker,
 * and one row here (docs/architecture.md, "Add an endpoint").
 *
 * Lanes: `direct` rows are answered before express (the token, introspection
 * and revocation endpoints, the proxy, JWKS, discovery, health probes:
 * measured hot paths, docs/architecture.md); the rest by express.
 */
import { adminRoutes } from "./admin/routes.js";
import { deleteAccount, getAccount, listAccounts } from "./api/accounts.js";
import { callbackEndpoint, sharedCallbackEndpoint } from "./connect/callback.js";
import { credentialsPage, submitCredentials } from "./connect/credential-form.js";
import { decideDevice, devicePage, submitDeviceCode } from "./connect/device.js";
import { hostnamePage, submitHostname } from "./connect/hostname-form.js";
import { confirmOnDemand, onDemandPage } from "./connect/on-demand.js";
import { connectStart } from "./connect/start.js";
import { widgetEndpoint } from "./connect/widget.js";
import { frontPage } from "./front-page.js";
import { healthz, readyz } from "./health.js";
import { BROWSER, PUBLIC, route, type RateLimitClass, type Route } from "./http/route.js";
import { authorizeEndpoint, claimedClientOfAuthorizationRequest } from "./oauth/authorize.js";
import { bearer } from "./oauth/bearer.js";
import { claimedClientId, clientAuthentication } from "./oauth/client-auth.js";
import { deviceAuthorizationEndpoint } from "./oauth/device.js";
import { discoveryEndpoint } from "./oauth/discovery.js";
import { introspectionEndpoint } from "./oauth/introspect.js";
import { jwksEndpoint } from "./oauth/jwks.js";
import { brokerResourceMetadataEndpoint, proxyResourceMetadataEndpoint } from "./oauth/protected-resource-metadata.js";
import { registrationEndpoint } from "./oauth/registration.js";
import { revocationEndpoint } from "./oauth/revoke.js";
import { tokenEndpoint } from "./oauth/token.js";
import { userinfoEndpoint } from "./oauth/userinfo.js";
import {
  ACCOUNTS_PATH,
  AUTHORIZATION_PATH,
  CALLBACK_PATH,
  CONNECT_START_PATH,
  CONNECT_WIDGET_PATH,
  CREDENTIALS_PAGE,
  DEVICE_AUTHORIZATION_PATH,
  DEVICE_DECISION_PATH,
  DEVICE_PAGE_PATH,
  REGISTRATION_PATH,
  HOSTNAME_PAGE,
  INTROSPECTION_PATH,
  ON_DEMAND_CONNECT_PATH,
  JWKS_PATH,
  OAUTH_METADATA_PATH,
  OPENID_CONFIGURATION_PATH,
  PROTECTED_RESOURCE_METADATA_PATH,
  PROXY_PATH,
  REVOCATION_PATH,
  TOKEN_PATH,
  USERINFO_PATH,
} from "./paths.js";
import { createProxy } from "./proxy/router.js";
import type { ProxyOptions } from "./proxy/options.js";
import type { Services } from "./services.js";

/**
 * The rate-limit classes: routes of one class share its counters (per
 * address, and per claimed client where the class reads one). `POST
 * /oauth/authorize` carries its client_id in a body read later, so it is
 * counted per address only.
 */
const LIMITS = {
  token: { name: "token", claimedClientId },
  deviceAuthorization: { name: "device_authorization", claimedClientId },
  authorize: { name: "authorize", claimedClientId: claimedClientOfAuthorizationRequest },
  device: { name: "device" },
  connect: { name: "connect" },
  // Per address only: a registering client has no client_id yet.
  registration: { name: "registration" },
} satisfies Record<string, RateLimitClass>;

export interface RouteTableOptions {
  /** Proxy settings other than the defaults (tests shorten timeouts). */
  proxy?: Partial<ProxyOptions>;
}

export function routeTable(services: Services, options: RouteTableOptions = {}): Route[] {
  const client = clientAuthentication(services);
  const proxy = createProxy(services, options.proxy);
  const { token, deviceAuthorization, authorize, device, connect, registration } = LIMITS;
  return [
    // Probes and public documents. `/`: links to the rest, for whoever opens the broker's address.
    route({ lane: "direct", method: "GET", path: "/", errors: "api", auth: PUBLIC, handle: frontPage(services) }),
    route({ lane: "direct", method: "GET", path: "/healthz", errors: "api", auth: PUBLIC, quiet: true, handle: healthz() }),
    route({ lane: "direct", method: "GET", path: "/readyz", errors: "api", auth: PUBLIC, quiet: true, handle: readyz(services) }),
    route({ lane: "direct", method: "GET", path: OPENID_CONFIGURATION_PATH, errors: "oauth", auth: PUBLIC, cors: true, handle: discoveryEndpoint(services) }),
    route({ lane: "direct", method: "GET", path: OAUTH_METADATA_PATH, errors: "oauth", auth: PUBLIC, cors: true, handle: discoveryEndpoint(services) }),
    // RFC 9728: what a client learns of the broker's APIs and of the proxy as protected resources (the challenges' resource_metadata).
    route({
      lane: "direct",
      method: "GET",
      path: PROTECTED_RESOURCE_METADATA_PATH,
      errors: "oauth",
      auth: PUBLIC,
      cors: true,
      handle: brokerResourceMetadataEndpoint(services),
    }),
    route({
      lane: "direct",
      method: "GET",
      path: `${PROTECTED_RESOURCE_METADATA_PATH}${PROXY_PATH}`,
      errors: "oauth",
      auth: PUBLIC,
      cors: true,
      handle: proxyResourceMetadataEndpoint(services),
    }),
    // The connect widget: a static script apps' pages include, cached by browsers (connect/widget.ts).
    route({ lane: "direct", method: "GET", path: CONNECT_WIDGET_PATH, errors: "api", auth: PUBLIC, handle: widgetEndpoint(services) }),
    route({ lane: "direct", method: "GET", path: JWKS_PATH, errors: "oauth", auth: PUBLIC, cors: true, handle: jwksEndpoint(services) }),

    // The authorization server's back channel: the client authenticates itself.
    route({ lane: "direct", method: "POST", path: TOKEN_PATH, errors: "oauth", auth: client, rateLimit: token, cors: true, handle: tokenEndpoint(services) }),
    route({ lane: "direct", method: "POST", path: INTROSPECTION_PATH, errors: "oauth", auth: client, handle: introspectionEndpoint(services) }),
    route({ lane: "direct", method: "POST", path: REVOCATION_PATH, errors: "oauth", auth: client, cors: true, handle: revocationEndpoint(services) }),
    route({
      lane: "express",
      method: "POST",
      path: DEVICE_AUTHORIZATION_PATH,
      errors: "oauth",
      auth: client,
      rateLimit: deviceAuthorization,
      handle: deviceAuthorizationEndpoint(services),
    }),
    // RFC 7591: a client registers itself (BROKER_DYNAMIC_REGISTRATION; 404 when off). Open to scripts: browser-based agents register too.
    route({
      lane: "express",
      method: "POST",
      path: REGISTRATION_PATH,
      errors: "oauth",
      auth: PUBLIC,
      rateLimit: registration,
      cors: true,
      body: "json",
      handle: registrationEndpoint(services),
    }),
    route({
      lane: "express",
      method: "GET",
      path: USERINFO_PATH,
      errors: "oauth",
      auth: bearer(services, ["openid"]),
      cors: true,
      handle: userinfoEndpoint(services),
    }),
    route({
      lane: "express",
      method: "POST",
      path: USERINFO_PATH,
      errors: "oauth",
      auth: bearer(services, ["openid"]),
      cors: true,
      handle: userinfoEndpoint(services),
    }),

    // The end user's browser: the authorization request, the device page, the connect pages.
    route({
      lane: "express",
      method: "GET",
      path: AUTHORIZATION_PATH,
      errors: "page",
      auth: BROWSER,
      rateLimit: authorize,
      handle: authorizeEndpoint(services),
    }),
    route({
      lane: "express",
      method: "POST",
      path: AUTHORIZATION_PATH,
      errors: "page",
      auth: BROWSER,
      rateLimit: authorize,
      body: "form",
      handle: authorizeEndpoint(services),
    }),
    route({ lane: "express", method: "GET", path: DEVICE_PAGE_PATH, errors: "page", auth: BROWSER, rateLimit: device, handle: devicePage(services) }),
    route({
      lane: "express",
      method: "POST",
      path: DEVICE_PAGE_PATH,
      errors: "page",
      auth: BROWSER,
      rateLimit: device,
      body: "form",
      handle: submitDeviceCode(services),
    }),
    route({
      lane: "express",
      method: "POST",
      path: DEVICE_DECISION_PATH,
      errors: "page",
      auth: BROWSER,
      rateLimit: device,
      body: "form",
      handle: decideDevice(services),
    }),
    route({ lane: "express", method: "GET", path: CONNECT_START_PATH, errors: "page", auth: BROWSER, rateLimit: connect, handle: connectStart(services) }),
    route({ lane: "express", method: "GET", path: CALLBACK_PATH, errors: "page", auth: BROWSER, rateLimit: connect, handle: sharedCallbackEndpoint(services) }),
    route({
      lane: "express",
      method: "GET",
      path: `${CALLBACK_PATH}/:connector`,
      errors: "page",
      auth: BROWSER,
      rateLimit: connect,
      handle: callbackEndpoint(services),
    }),
    route({
      lane: "express",
      method: "GET",
      path: `${CALLBACK_PATH}/:connector/:host`,
      errors: "page",
      auth: BROWSER,
      rateLimit: connect,
      handle: callbackEndpoint(services),
    }),
    route({
      lane: "express",
      method: "GET",
      path: `${ON_DEMAND_CONNECT_PATH}/:ticket`,
      errors: "page",
      auth: BROWSER,
      rateLimit: connect,
      handle: onDemandPage(services),
    }),
    route({
      lane: "express",
      method: "POST",
      path: `${ON_DEMAND_CONNECT_PATH}/:ticket`,
      errors: "page",
      auth: BROWSER,
      rateLimit: connect,
      body: "form",
      handle: confirmOnDemand(services),
    }),
    route({ lane: "express", method: "GET", path: HOSTNAME_PAGE, errors: "page", auth: BROWSER, rateLimit: connect, handle: hostnamePage(services) }),
    route({
      lane: "express",
      method: "POST",
      path: HOSTNAME_PAGE,
      errors: "page",
      auth: BROWSER,
      rateLimit: connect,
      body: "form",
      handle: submitHostname(services),
    }),
    route({ lane: "express", method: "GET", path: CREDENTIALS_PAGE, errors: "page", auth: BROWSER, rateLimit: connect, handle: credentialsPage(services) }),
    route({
      lane: "express",
      method: "POST",
      path: CREDENTIALS_PAGE,
      errors: "page",
      auth: BROWSER,
      rateLimit: connect,
      body: "form",
      handle: submitCredentials(services),
    }),

    // The app-facing API: broker access tokens.
    route({ lane: "express", method: "GET", path: ACCOUNTS_PATH, errors: "api", auth: bearer(services, ["accounts:read"]), handle: listAccounts(services) }),
    route({
      lane: "express",
      method: "GET",
      path: `${ACCOUNTS_PATH}/:id`,
      errors: "api",
      auth: bearer(services, ["accounts:read"]),
      handle: getAccount(services),
    }),
    route({
      lane: "express",
      method: "DELETE",
      path: `${ACCOUNTS_PATH}/:id`,
      errors: "api",
      auth: bearer(services, ["accounts:write"]),
      handle: deleteAccount(services),
    }),
    route({ lane: "direct", method: "ANY", path: `${PROXY_PATH}/*`, errors: "api", auth: proxy.accountBound, handle: proxy.handle }),
    route({ lane: "direct", method: "ANY", path: `${ACCOUNTS_PATH}/:id/proxy/*`, errors: "api", auth: proxy.forAccount, handle: proxy.handle }),

    // The operator's surface.
    ...adminRoutes(services),
  ];
}
