/**
 * What an app will be able to do, in plain words, for the connect pages: the
 * end user reads it before choosing and signing in. Broker scopes have fixed
 * descriptions; a connector scope has the words its connector file gives it
 * (`scopeDescriptions`), or else is shown by its name and the upstream
 * scopes it maps to.
 */
import type { ConnectorConfig } from "../connectors/schema.js";
import { html, type RawHtml } from "../http/html.js";
import { splitConnectorScope } from "../oauth/scopes.js";

/**
 * What each broker scope lets an app do, said to the end user. `admin` is
 * never granted through a browser. The identity scopes say exactly what the
 * ID token and userinfo carry for them (src/oauth/identity-claims.ts).
 */
export const BROKER_SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: "Confirm which account you connected, at which service, and your server's address if you type one",
  profile: "See your name at the service",
  email: "See your email address at the service, and whether the service verified it",
  proxy: "Use the service's API on your behalf, through this broker",
  "accounts:read": "See the accounts you connected to it and their status",
  "accounts:write": "Disconnect the accounts you connected to it",
  "tokens:read": "Read the access tokens the service issued for your account",
  offline_access: "Keep this access when you are not using the app, until you disconnect",
  admin: "Administer this broker",
};

export interface ScopeDescription {
  /** The scope as the app asked for it. */
  scope: string;
  /** What it allows, in plain words. */
  text: string;
  /** For a connector scope: the upstream permissions it asks the service for. */
  upstream?: string[];
}

/**
 * The scopes an app gets when it names none: what `chooseConnector`
 * (src/oauth/interactions.ts) grants, so the page says what will happen.
 */
export function scopesShown(requested: string[], registered: string[]): string[] {
  return requested.length > 0 ? requested : registered.filter((s) => s === "proxy");
}

/** Plain-words descriptions of broker and connector scopes, in request order. */
export function describeScopes(scopes: string[], findConnector: (id: string) => ConnectorConfig | undefined): ScopeDescription[] {
  return scopes.map((scope): ScopeDescription => {
    const known = BROKER_SCOPE_DESCRIPTIONS[scope];
    if (known) return { scope, text: known };
    const nested = splitConnectorScope(scope);
    const connector = nested && findConnector(nested.connectorId);
    if (!nested || !connector) return { scope, text: scope };
    return describeConnectorScope(connector, nested.name, scope);
  });
}

/** What a connector scope lets an app do, in its connector file's words, if the file gives them. */
export function connectorScopeWords(connector: Pick<ConnectorConfig, "scopeDescriptions">, name: string): string | undefined {
  return Object.hasOwn(connector.scopeDescriptions, name) ? connector.scopeDescriptions[name] : undefined;
}

/** A connector-local scope (`files.read`, `raw:drive.admin`) of one connector. */
export function describeConnectorScope(connector: ConnectorConfig, name: string, scope = `${connector.id}:${name}`): ScopeDescription {
  if (name.startsWith("raw:")) return { scope, text: `${connector.name} permission “${name.slice(4)}”`, upstream: [name.slice(4)] };
  const words = connectorScopeWords(connector, name);
  if (words) return { scope, text: `${connector.name}: ${words}` };
  return { scope, text: `${connector.name}: ${name}`, upstream: connector.scopes[name] ?? [] };
}

/** The list of what the app may do, for a connect page. */
export function renderScopeList(descriptions: ScopeDescription[]): RawHtml {
  return html`<ul class="scopes">
    ${descriptions.map(
      (d) =>
        html`<li>
          ${d.text}${
            d.upstream && d.upstream.length > 0
              ? html` <span class="muted">(asks for ${d.upstream.join(", ")})</span>`
              : html` <span class="muted">(<code>${d.scope}</code>)</span>`
          }
        </li>`,
    )}
  </ul>`;
}

/**
 * A "what <app> will be able to do" section (empty when the app asked for
 * nothing); with a resource (RFC 8707), where: the tokens work there and nowhere else.
 */
export function renderConsent(appName: string, descriptions: ScopeDescription[], headingId = "consent-heading", resourceName?: string): RawHtml {
  if (descriptions.length === 0) return html``;
  return html`<section aria-labelledby="${headingId}">
    <h2 id="${headingId}">${appName} will be able to${resourceName === undefined ? "" : html`, at <strong>${resourceName}</strong>`}</h2>
    ${renderScopeList(descriptions)}
  </section>`;
}
