/**
 * The hostname an end user types for a per-server connector (their GitLab,
 * Jira or ServiceNow), checked before the broker sends anything there:
 *
 * 1. it is a bare host (and optional port), and matches the connector's
 *    `hostname.pattern` — the operator's list of servers;
 * 2. it resolves, and every address it resolves to is public, unless
 *    BROKER_ALLOW_PRIVATE_HOSTS covers it (SSRF: a typed name must not
 *    reach the broker's own network, loopback or the cloud metadata
 *    service at 169.254.169.254);
 * 3. the address it was checked at is kept with the account, and every
 *    later request to that host (token, refresh, identity, proxy) connects
 *    there, so a name that changes its answer afterwards (DNS rebinding)
 *    still reaches only the checked address.
 */
import { FormValuesRejected } from "../connectors/errors.js";
import type { ConnectorConfig } from "../connectors/schema.js";
import { hostnameAllowed, isHostWithPort } from "../connectors/template.js";
import { UpstreamError } from "../errors.js";
import { ForbiddenHostError, type CheckedAddress } from "../net/outbound.js";

export const HOSTNAME_FIELD = "hostname";

export interface CheckedHostname {
  /** As it fills `{hostname}`: lower-case, with the port if one was typed. */
  hostname: string;
  pinned: CheckedAddress;
}

/**
 * What the end user meant: `https://GitLab.example.com/` and
 * `gitlab.example.com.` both mean `gitlab.example.com`. Paths, credentials
 * and queries are not part of a hostname and make it invalid.
 */
export function normalizeHostname(typed: string): string {
  let value = typed.trim();
  const scheme = /^https?:\/\//i.exec(value);
  if (scheme) {
    value = value.slice(scheme[0].length);
    if (value.endsWith("/")) value = value.slice(0, -1);
  }
  value = value.toLowerCase();
  // A fully qualified name's final dot names the same host.
  return value.replace(/\.(?=(:\d+)?$)/, "");
}

/** The host without its port: what DNS is asked about. */
function hostWithoutPort(hostname: string): string {
  if (hostname.startsWith("[")) return hostname.slice(0, hostname.indexOf("]") + 1);
  const colon = hostname.lastIndexOf(":");
  return colon === -1 ? hostname : hostname.slice(0, colon);
}

/** Checks a typed hostname for a connector; FormValuesRejected (shown on the form) when it will not do. */
export async function checkHostname(outbound: { resolve(hostname: string): Promise<CheckedAddress> }, connector: ConnectorConfig, typed: string): Promise<CheckedHostname> {
  const hostname = normalizeHostname(typed);
  const label = connector.hostname?.label ?? "Server address";
  if (hostname === "") throw new FormValuesRejected(`${label} is required`, HOSTNAME_FIELD);
  if (hostname.length > 253 || !isHostWithPort(hostname)) throw new FormValuesRejected(`Enter a host name such as ${connector.hostname?.example ?? "server.example.com"}, without a path`, HOSTNAME_FIELD);
  if (!hostnameAllowed(connector, hostname)) throw new FormValuesRejected(`${hostname} is not a ${connector.name} server this broker may connect to`, HOSTNAME_FIELD);
  try {
    return { hostname, pinned: await outbound.resolve(hostWithoutPort(hostname)) };
  } catch (err) {
    if (err instanceof ForbiddenHostError) throw new FormValuesRejected(`${hostname} points to a private or reserved network address, which the broker may not connect to`, HOSTNAME_FIELD, { detail: err.description });
    if (err instanceof UpstreamError) throw new FormValuesRejected(`${hostname} could not be found. Check the address and try again.`, HOSTNAME_FIELD);
    throw err;
  }
}
