/**
 * Filling URL templates of per-server connectors with the end user's
 * hostname. Filling fails loudly: a placeholder left in a URL would send a
 * request somewhere nobody chose.
 */
import { HOSTNAME_PLACEHOLDER, type ConnectorFile } from "./schema.js";

export interface TemplateValues {
  hostname?: string;
}

/** A host name or address with an optional port: nothing that could end the authority part of a URL. */
const HOST_WITH_PORT = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Whether a value is a bare host name or address, with an optional port: what `{hostname}` may be filled with. */
export function isHostWithPort(value: string): boolean {
  return HOST_WITH_PORT.test(value);
}

/**
 * Replaces `{hostname}` in a template. Throws TypeError when a placeholder
 * is left unfilled, or when the hostname is not a bare host (the hostname
 * must already have passed the connector's `hostname.pattern`; this is the
 * last line against `evil.example/` or `user@host` reaching a URL).
 */
export function fillTemplate(template: string, values: TemplateValues): string {
  let filled = template;
  if (template.includes(HOSTNAME_PLACEHOLDER)) {
    if (values.hostname === undefined) throw new TypeError(`template "${template}" needs a hostname`);
    if (!HOST_WITH_PORT.test(values.hostname)) throw new TypeError(`"${values.hostname}" is not a host name`);
    filled = template.replaceAll(HOSTNAME_PLACEHOLDER, values.hostname);
  }
  const left = /\{[^{}]*\}/.exec(filled);
  if (left) throw new TypeError(`template "${template}" has placeholder ${left[0]} left unfilled`);
  return filled;
}

/** Whether the connector's URLs depend on a hostname the end user types. */
export function isPerServer(connector: Pick<ConnectorFile, "hostname">): boolean {
  // The schema requires hostname.pattern exactly when some URL uses {hostname}.
  return connector.hostname !== undefined;
}

/** Whether a typed hostname is one the connector accepts (case-insensitive, as DNS is). */
export function hostnameAllowed(connector: Pick<ConnectorFile, "hostname">, hostname: string): boolean {
  if (!connector.hostname) return false;
  return new RegExp(connector.hostname.pattern).test(hostname.toLowerCase());
}
