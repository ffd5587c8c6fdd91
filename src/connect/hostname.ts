/**
 * The hostname an end user types for a per-server connector (their GitLab,
 * Jira or ServiceNow), checked before the broker sends anything there:
 *
 * 1. it is a bare host (and optional port; with `hostname.pathPrefix`, a
 *    path prefix too: connectors/host.ts) the operator admits: it matches
 *    the connector's `hostname.pattern`, or the broker's credentials were
 *    registered for it (`credentials set --hostname`), or the file lists it
 *    as sharing the connector-wide ones;
 * 2. where the broker's client credentials go to that server (its token
 *    endpoint is there), there are credentials the broker may send to it:
 *    its own registration, or the connector-wide ones where the file lists
 *    it. A name in a link must never make the broker post its client secret
 *    to a server the operator did not choose. Both checks read only the
 *    broker's own data: a refused server sees no request, not even DNS;
 * 3. it resolves, and every address it resolves to is public, unless
 *    BROKER_ALLOW_PRIVATE_HOSTS covers it (SSRF: a typed name must not
 *    reach the broker's own network, loopback or the cloud metadata
 *    service at 169.254.169.254);
 * 4. the address it was checked at is kept with the account, and every
 *    later request to that host (token, refresh, identity, proxy) connects
 *    there, so a name that changes its answer afterwards (DNS rebinding)
 *    still reaches only the checked address.
 */
import { FormValuesRejected } from "../connectors/errors.js";
import type { ConnectorConfig } from "../connectors/schema.js";
import { hostWithoutPort, normalizeHostname, serverHost, serverProblem } from "../connectors/host.js";
import { hostnameAllowed, sendsClientCredentialsToServer, sharesConnectorCredentials } from "../connectors/template.js";
import { callbackPathFor } from "../connectors/context.js";
import { isRegisteredServer } from "../connectors/credentials.js";
import type { Db } from "../db.js";
import { UpstreamError } from "../errors.js";
import { ForbiddenHostError, type CheckedAddress } from "../net/outbound.js";

export const HOSTNAME_FIELD = "hostname";

/**
 * "a GitLab", "an Acme Cloud": the article by the name's first letter. A
 * vowel letter is the rule of thumb; names read out as letters ("an S3") are
 * rare enough in connector names not to guess at.
 */
export function withArticle(name: string): string {
  return `${/^[aeiou]/i.test(name) ? "an" : "a"} ${name}`;
}

export interface CheckedHostname {
  /** As it fills `{hostname}`: lower-case, with the port if one was typed. */
  hostname: string;
  pinned: CheckedAddress;
}

/** What checking a hostname reads: the broker's registrations, and DNS through the address policy. */
export interface HostnameCheckServices {
  config: { issuer: string };
  db: Pick<Db, "connectorCredential">;
  outbound: { resolve(hostname: string): Promise<CheckedAddress> };
}

/** Checks a typed hostname for an app's connect at a connector; FormValuesRejected (shown on the form) when it will not do. */
export async function checkHostname(services: HostnameCheckServices, connector: ConnectorConfig, typed: string, appId: string): Promise<CheckedHostname> {
  const hostname = normalizeHostname(typed);
  const label = connector.hostname?.label ?? "Server address";
  if (hostname === "") throw new FormValuesRejected(`${label} is required`, HOSTNAME_FIELD);
  const problem = hostname.length > 253 ? "it is too long" : serverProblem(hostname, connector.hostname?.pathPrefix ?? false);
  if (problem !== undefined)
    throw new FormValuesRejected(`Enter your server's address such as ${connector.hostname?.example ?? "server.example.com"}: ${problem}`, HOSTNAME_FIELD);
  const registered = await isRegisteredServer(services.db, connector.id, hostname, appId);
  const shared = sharesConnectorCredentials(connector, hostname);
  if (!registered && !shared && !hostnameAllowed(connector, hostname))
    throw new FormValuesRejected(`${hostname} is not ${withArticle(connector.name)} server this broker may connect to`, HOSTNAME_FIELD);
  if (!registered && !shared && sendsClientCredentialsToServer(connector)) {
    throw new FormValuesRejected(
      `${hostname} has not registered this broker yet. Its administrator can register it as an OAuth application with the redirect URI ${services.config.issuer}${callbackPathFor(connector.id, hostname)}, then this broker's operator adds the credentials it gets.`,
      HOSTNAME_FIELD,
    );
  }
  try {
    // Only the host is resolved and pinned: a path prefix is no part of where the broker connects.
    return { hostname, pinned: await services.outbound.resolve(hostWithoutPort(serverHost(hostname))) };
  } catch (err) {
    if (err instanceof ForbiddenHostError)
      throw new FormValuesRejected(`${hostname} points to a private or reserved network address, which the broker may not connect to`, HOSTNAME_FIELD, {
        detail: err.description,
      });
    if (err instanceof UpstreamError) throw new FormValuesRejected(`${hostname} could not be found. Check the address and try again.`, HOSTNAME_FIELD);
    throw err;
  }
}
