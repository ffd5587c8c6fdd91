/**
 * What an app's webhook URL may be. The broker POSTs account events there
 * from inside its network, so the URL is an outbound request like any
 * upstream call: https, and not to a private or reserved address, unless
 * BROKER_ALLOW_PRIVATE_HOSTS allows it (development and tests), which is
 * also the only place plain http may go. Names are checked again, resolved,
 * at every delivery (net/outbound.ts); an address literal is refused here,
 * at registration, so the mistake is seen when it is made.
 */
import { isIP } from "node:net";
import { AddressPolicy } from "../net/address-policy.js";
import type { CidrList } from "../net/cidr-list.js";

/** The problem with `uri` as a webhook URL, or undefined when it may be used. */
export function checkWebhookUrl(uri: string, allowPrivateHosts: CidrList): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `"${uri}" is not an absolute URL`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return `"${uri}" must use https`;
  // A password in the URL would be shown by every listing of the app.
  if (url.username || url.password) return `"${uri}" must not contain a user name or password`;
  if (url.hash || uri.includes("#")) return `"${uri}" must not contain a fragment`;
  const bare = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const literal = isIP(bare) !== 0;
  const allowedPrivate = literal ? allowPrivateHosts.includes(bare) : bare === "localhost" && allowPrivateHosts.includes("127.0.0.1");
  if (url.protocol === "http:" && !allowedPrivate) return `"${uri}" must use https (http only to an address in BROKER_ALLOW_PRIVATE_HOSTS, for development)`;
  if (literal && !new AddressPolicy(allowPrivateHosts).permits(bare))
    return `"${uri}" names a private or reserved address (allowed only inside BROKER_ALLOW_PRIVATE_HOSTS)`;
  return undefined;
}
