/**
 * What a per-server connector's `{hostname}` may hold: a bare host name or
 * address with an optional port, nothing that could end the authority part
 * of a URL (`evil.example/`, `user@host`). Used where a typed hostname is
 * checked, where templates are filled, and by the connector schema.
 */

const HOST_WITH_PORT =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Whether a value is a bare host name or address, with an optional port: what `{hostname}` may be filled with. */
export function isHostWithPort(value: string): boolean {
  return HOST_WITH_PORT.test(value);
}

/** The host without its port: what DNS is asked about. */
export function hostWithoutPort(hostname: string): string {
  if (hostname.startsWith("[")) return hostname.slice(0, hostname.indexOf("]") + 1);
  const colon = hostname.lastIndexOf(":");
  return colon === -1 ? hostname : hostname.slice(0, colon);
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
