/**
 * Scope parsing and checks (RFC 6749 §3.3). Broker scopes stand alone
 * (`proxy`, `openid`…); connector scopes nest upstream ones under the
 * connector's own names: `<connector>:<name>`, or `<connector>:raw:<upstream
 * scope>` where the connector allows raw scopes (docs/authorization-server.md "Scopes").
 */
import { InvalidScope } from "../errors.js";
import type { Client } from "../apps/clients.js";

export const BROKER_SCOPES = ["openid", "profile", "email", "offline_access", "proxy", "accounts:read", "accounts:write", "tokens:read", "admin"] as const;

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** The scope tokens of a `scope` parameter, de-duplicated, order kept. */
export function parseScope(value: string | undefined): string[] {
  if (value === undefined) return [];
  const tokens = value.split(" ").filter((t) => t !== "");
  for (const token of tokens) if (!SCOPE_TOKEN.test(token)) throw new InvalidScope("scope contains a character RFC 6749 §3.3 does not allow");
  return [...new Set(tokens)];
}

export function isBrokerScope(scope: string): boolean {
  return (BROKER_SCOPES as readonly string[]).includes(scope);
}

/** `acme:files.read` → { connectorId: "acme", name: "files.read" }; undefined for broker scopes. */
export function splitConnectorScope(scope: string): { connectorId: string; name: string } | undefined {
  if (isBrokerScope(scope)) return undefined;
  const colon = scope.indexOf(":");
  if (colon <= 0 || colon === scope.length - 1) return undefined;
  return { connectorId: scope.slice(0, colon), name: scope.slice(colon + 1) };
}

/** What a connector must tell the scope check. */
export interface ScopedConnector {
  id: string;
  scopes: Record<string, string[]>;
  allowRawScopes?: boolean;
}

export interface RequestedScopes {
  /** Every accepted scope token, as it will appear in the broker's tokens. */
  all: string[];
  broker: string[];
  /** Connector-local names (`files.read`, `raw:x`) asked for the chosen connector. */
  connectorLocal: string[];
}

/** Whether the app may use a connector at all. */
export function clientMayUseConnector(client: Client, connectorId: string): boolean {
  return client.connectors.length === 0 || client.connectors.includes(connectorId);
}

/**
 * Checks requested scopes against what the app was registered with and what
 * the chosen connector offers. An app registered without any connector
 * scopes may ask for any scope of the connectors it may use; one registered
 * with some (`acme:files.read`, or `acme:*`) only for those.
 */
export function checkRequestedScopes(client: Client, requested: string[], connector: ScopedConnector | undefined): RequestedScopes {
  const broker: string[] = [];
  const connectorLocal: string[] = [];
  const restrictsConnectorScopes = client.scopes.some((s) => splitConnectorScope(s) !== undefined);
  for (const scope of requested) {
    if (isBrokerScope(scope)) {
      if (!client.scopes.includes(scope)) throw new InvalidScope(`the app is not registered for scope "${scope}"`);
      broker.push(scope);
      continue;
    }
    const nested = splitConnectorScope(scope);
    if (!nested) throw new InvalidScope(`unknown scope "${scope}"`);
    if (!connector || nested.connectorId !== connector.id) throw new InvalidScope(`scope "${scope}" belongs to another connector than the one being connected`);
    if (!clientMayUseConnector(client, connector.id)) throw new InvalidScope(`the app may not use connector "${connector.id}"`);
    if (restrictsConnectorScopes && !client.scopes.includes(scope) && !client.scopes.includes(`${connector.id}:*`))
      throw new InvalidScope(`the app is not registered for scope "${scope}"`);
    if (nested.name.startsWith("raw:")) {
      if (!connector.allowRawScopes) throw new InvalidScope(`connector "${connector.id}" does not allow raw upstream scopes`);
      if (nested.name.length === 4) throw new InvalidScope(`scope "${scope}" names no upstream scope`);
    } else if (!Object.hasOwn(connector.scopes, nested.name)) {
      throw new InvalidScope(`connector "${connector.id}" has no scope "${nested.name}"`);
    }
    connectorLocal.push(nested.name);
  }
  return { all: requested, broker, connectorLocal };
}

/** Whether the space-separated `scope` (RFC 6749 §3.3) holds `wanted`; read without splitting it, as the proxy asks on every call. */
export function hasScope(scope: string, wanted: string): boolean {
  if (wanted === "") return false;
  for (let at = scope.indexOf(wanted); at !== -1; at = scope.indexOf(wanted, at + 1)) {
    const end = at + wanted.length;
    if ((at === 0 || scope[at - 1] === " ") && (end === scope.length || scope[end] === " ")) return true;
  }
  return false;
}
