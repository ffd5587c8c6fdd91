/**
 * Filling URL templates of per-server connectors with the end user's
 * hostname. Filling fails loudly: a placeholder left in a URL would send a
 * request somewhere nobody chose.
 */
import { serverProblem } from "./host.js";
import { usesClientCredentials } from "./kinds/catalog.js";
import type { ConnectorFile } from "./schema.js";
import { HOSTNAME_PLACEHOLDER, TOKEN_PLACEHOLDER, VALUE_PLACEHOLDER } from "./schema-fields.js";

const VALUES_PREFIX = "{values.";

export interface TemplateValues {
  hostname?: string;
  /** The account's kept `values` (schema-values.ts), already checked against their `as` and `hosts` (upstream-values.ts). */
  values?: Readonly<Record<string, string>>;
  /** The connector's `hostname.pathPrefix`: the hostname may carry a path prefix (connectors/host.ts). */
  pathPrefix?: boolean;
}

/**
 * Replaces `{hostname}` and `{values.<name>}` in a template. Throws TypeError when a placeholder
 * is left unfilled, or when the hostname is not a bare host (the hostname
 * must already have passed the connector's `hostname.pattern`; this is the
 * last line against `evil.example/` or `user@host` reaching a URL).
 */
export function fillTemplate(template: string, values: TemplateValues): string {
  let filled = template;
  if (template.includes(HOSTNAME_PLACEHOLDER)) {
    if (values.hostname === undefined) throw new TypeError(`template "${template}" needs a hostname`);
    const problem = serverProblem(values.hostname, values.pathPrefix ?? false);
    if (problem !== undefined) throw new TypeError(`"${values.hostname}" is not a server address: ${problem}`);
    filled = template.replaceAll(HOSTNAME_PLACEHOLDER, values.hostname);
  }
  if (filled.includes(VALUES_PREFIX)) {
    filled = filled.replace(VALUE_PLACEHOLDER, (whole, name: string) => {
      const value = values.values?.[name];
      if (value === undefined) throw new TypeError(`template "${template}" needs the account's value ${name}`);
      return value;
    });
  }
  const left = /\{[^{}]*\}/.exec(filled);
  if (left) throw new TypeError(`template "${template}" has placeholder ${left[0]} left unfilled`);
  return filled;
}

/** Whether the connector's URLs depend on a hostname the end user types. */
export function isPerServer(connector: Pick<ConnectorFile, "hostname">): boolean {
  // The schema requires the hostname section exactly when some URL uses {hostname}.
  return connector.hostname !== undefined;
}

/**
 * Whether the broker's own client credentials of this connector go to the
 * typed server: its token (or discovery, or revocation) endpoint is on it.
 * Then a server gets only credentials registered for it, or the
 * connector-wide ones where the file lists it (sharesConnectorCredentials):
 * a hostname in a link must never make the broker post its client secret to
 * a server the operator did not choose.
 */
export function sendsClientCredentialsToServer(connector: Pick<ConnectorFile, "auth" | "hostname">): boolean {
  if (!isPerServer(connector) || !usesClientCredentials(connector)) return false;
  return Object.values(connector.auth).some((value) => typeof value === "string" && value.includes(HOSTNAME_PLACEHOLDER));
}

/** Whether the connector-wide client credentials may be sent to this server (`hostname.sharedCredentialHosts`). */
export function sharesConnectorCredentials(connector: Pick<ConnectorFile, "hostname">, hostname: string): boolean {
  const host = hostname.toLowerCase();
  return (connector.hostname?.sharedCredentialHosts ?? []).some((entry) => (entry.startsWith("*.") ? host.endsWith(entry.slice(1)) : host === entry));
}

/** Whether a typed hostname matches the connector's `hostname.pattern` (case-insensitive, as DNS is). */
export function hostnameAllowed(connector: Pick<ConnectorFile, "hostname">, hostname: string): boolean {
  if (!connector.hostname?.pattern) return false;
  return new RegExp(connector.hostname.pattern).test(hostname.toLowerCase());
}

/** What `{token}` stands for while the rest of a template is filled: no braces, so fillTemplate leaves it. */
const HELD_TOKEN = "%7Btoken%7D";

/**
 * Fills `{token}` (identity.url, auth.revocation.url) with a token,
 * percent-encoded, after `fill` has filled the rest: an error about the
 * template (which quotes it) is thrown before the token is in it, so no
 * message can carry the token. The URL itself is never logged.
 */
export function fillWithToken(template: string, token: string, fill: (template: string) => string): string {
  return fill(template.replaceAll(TOKEN_PLACEHOLDER, HELD_TOKEN)).replaceAll(HELD_TOKEN, encodeURIComponent(token));
}
