/**
 * `GET /`: what a newcomer who opens the broker's address sees — where
 * discovery, the health probes and the operator API's OpenAPI document are,
 * and which docs to read — instead of a 404. HTML for a browser; the same
 * links as JSON for a client whose Accept prefers it. Built once at start:
 * the links depend only on the issuer.
 */
import type { IncomingMessage } from "node:http";
import { sendJson } from "./http/json.js";
import { html, sendPage } from "./http/html.js";
import type { Exchange } from "./http/route.js";
import { CONNECT_WIDGET_PATH, JWKS_PATH, OAUTH_METADATA_PATH, OPENID_CONFIGURATION_PATH } from "./paths.js";
import type { Services } from "./services.js";

interface Link {
  /** The name the JSON answer gives it. */
  rel: string;
  path: string;
  /** What it is, in the page's words. */
  text: string;
}

const LINKS: Link[] = [
  { rel: "openid_configuration", path: OPENID_CONFIGURATION_PATH, text: "OpenID Connect discovery: every endpoint, grant and algorithm of this broker" },
  { rel: "oauth_authorization_server", path: OAUTH_METADATA_PATH, text: "The same metadata as RFC 8414 names it" },
  { rel: "jwks", path: JWKS_PATH, text: "The public keys that verify the broker's tokens" },
  { rel: "connect_widget", path: CONNECT_WIDGET_PATH, text: "The connect widget: the script an app's page includes to connect an account in a popup" },
  { rel: "healthz", path: "/healthz", text: "Liveness: 200 while the process runs" },
  { rel: "readyz", path: "/readyz", text: "Readiness: 200 when PostgreSQL and Redis answer" },
  { rel: "openapi", path: "/admin/v1/openapi.json", text: "The operator API's OpenAPI document (needs the admin token, BROKER_ADMIN_TOKEN)" },
];

/** The docs, as paths in the broker's source: the broker serves none of them. */
const DOCS = [
  { path: "README.md", text: "start here" },
  { path: "docs/authorization-server.md", text: "for app developers: the one OAuth 2.0 / OpenID Connect flow" },
  { path: "docs/connect-widget.md", text: "for app developers: connecting an account in a popup from the app's page" },
  { path: "docs/proxy.md", text: "calling upstream APIs through the broker" },
  { path: "docs/operations.md", text: "for operators: settings, the CLI, the operator API" },
];

/** Whether the request's Accept header prefers JSON to HTML (a browser's names text/html first). */
function prefersJson(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? "";
  const json = accept.indexOf("application/json");
  const htmlAt = accept.indexOf("text/html");
  return json !== -1 && (htmlAt === -1 || json < htmlAt);
}

export function frontPage(services: Pick<Services, "config">): (exchange: Exchange) => void {
  const { issuer } = services.config;
  const document = {
    name: "authbroker",
    issuer,
    links: Object.fromEntries(LINKS.map((l) => [l.rel, `${issuer}${l.path}`])),
    docs: DOCS.map((d) => d.path),
  };
  const body = html`<h1>authbroker</h1>
    <p>This is an auth broker: apps send their users here to connect accounts at other services. Issuer: <code>${issuer}</code>.</p>
    <ul>
      ${LINKS.map((l) => html`<li><a href="${l.path}">${l.path}</a> — ${l.text}</li>`)}
    </ul>
    <p>Documentation, in the broker's source:</p>
    <ul>
      ${DOCS.map((d) => html`<li><code>${d.path}</code> — ${d.text}</li>`)}
    </ul>`;
  return ({ req, res }) => {
    res.setHeader("Vary", "Accept");
    if (prefersJson(req)) return sendJson(res, 200, document);
    sendPage(res, { title: "authbroker", body });
  };
}
