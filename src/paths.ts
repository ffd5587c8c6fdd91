/**
 * The broker's URL space: the paths other code links to (discovery lists
 * the endpoints, pages redirect to each other, upstreams are given the
 * callback), named once. The route table (src/routes.ts) says what serves
 * each path; an endpoint nothing links to needs no constant here.
 */

/** OAuth 2.0 / OpenID Connect endpoints of the broker as authorization server. */
export const AUTHORIZATION_PATH = "/oauth/authorize";
export const TOKEN_PATH = "/oauth/token";
export const INTROSPECTION_PATH = "/oauth/introspect";
export const REVOCATION_PATH = "/oauth/revoke";
export const USERINFO_PATH = "/oauth/userinfo";
export const JWKS_PATH = "/oauth/jwks";
export const DEVICE_AUTHORIZATION_PATH = "/oauth/device_authorization";
/** RFC 7591 dynamic client registration (BROKER_DYNAMIC_REGISTRATION). */
export const REGISTRATION_PATH = "/oauth/register";
export const OPENID_CONFIGURATION_PATH = "/.well-known/openid-configuration";
export const OAUTH_METADATA_PATH = "/.well-known/oauth-authorization-server";
/** RFC 9728 protected resource metadata: the broker's APIs here, the proxy at this path + PROXY_PATH. */
export const PROTECTED_RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource";

/** The end user's pages: the device code page (RFC 8628 `verification_uri`) and the connect pages. */
export const DEVICE_PAGE_PATH = "/device";
export const DEVICE_DECISION_PATH = "/device/decision";
/** Where /oauth/authorize (and the /device page) hand the browser to the connect flow: the picker, or the chosen service's first step. */
export const CONNECT_START_PATH = "/connect/start";
export const HOSTNAME_PAGE = "/connect/hostname";
export const CREDENTIALS_PAGE = "/connect/credentials";
/** Connect on demand: `/connect/on-demand/<ticket>`, the page an elicitation sends the end user to (connect/on-demand.ts). */
export const ON_DEMAND_CONNECT_PATH = "/connect/on-demand";
/** Where upstreams send the end user back: `/connect/callback/<connector>[/<host>]` (connectors/context.ts callbackPathFor). */
export const CALLBACK_PATH = "/connect/callback";

/** The connect widget: the script an app's page includes to run the connect flow in a popup (connect/widget.ts). */
export const CONNECT_WIDGET_PATH = "/connect.js";

/** The app-facing API. */
export const ACCOUNTS_PATH = "/v1/accounts";
export const PROXY_PATH = "/v1/proxy";

/** The operator's surface. */
export const ADMIN_PREFIX = "/admin/v1";
export const METRICS_PATH = "/metrics";
export const QUEUE_DASHBOARD_PATH = "/admin/queues";
