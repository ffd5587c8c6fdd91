/**
 * What a per-server connector's `{hostname}` may hold: a bare host name or
 * address with an optional port, nothing that could end the authority part
 * of a URL (`evil.example/`, `user@host`). Used where a typed hostname is
 * checked, where templates are filled, and by the connector schema.
 *
 * A connector with `hostname.pathPrefix` also admits a server installed
 * under a path (`example.com/gitlab`): `host[:port]/seg/…`, each segment of
 * RFC 3986 unreserved characters only, none `.` or `..`, no `%`, query or
 * fragment, no trailing slash. Only the host part is resolved, checked by
 * the address policy and pinned (`serverHost`); the path goes into URLs
 * as written, where nothing in it can climb out of or re-route the URL.
 */

const HOST_WITH_PORT =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Whether a value is a bare host name or address, with an optional port: what `{hostname}` may be filled with. */
export function isHostWithPort(value: string): boolean {
  return HOST_WITH_PORT.test(value);
}

/** One path segment of a server's prefix: unreserved characters only (RFC 3986 §2.3), so nothing in it is ever decoded. */
const PREFIX_SEGMENT = /^[A-Za-z0-9._~-]+$/;

/**
 * Why a normalised server will not do for `{hostname}`, or undefined when it
 * will: one sentence an end user or operator can act on. `pathPrefix` admits
 * `host[:port]/path/prefix` (the connector's `hostname.pathPrefix`).
 */
export function serverProblem(server: string, pathPrefix: boolean): string | undefined {
  if (/[?#]/.test(server)) return "a server address has no query (?) or fragment (#)";
  const host = serverHost(server);
  if (!isHostWithPort(host)) return "not a host name (host or host:port)";
  if (host === server) return undefined;
  if (!pathPrefix) return "a server address here is a host name, without a path";
  const segments = server.slice(host.length + 1).split("/");
  if (segments.some((segment) => segment.includes("%"))) return "a server's path has no percent-encoded characters (%)";
  if (segments.some((segment) => segment === "." || segment === "..")) return "a server's path has no . or .. segments";
  if (segments.some((segment) => !PREFIX_SEGMENT.test(segment)))
    return "a server's path is made of letters, digits and - . _ ~ between single slashes, without a trailing slash";
  return undefined;
}

/** The host (and port) of a server, without its path prefix: what is resolved, checked and pinned. */
export function serverHost(server: string): string {
  const slash = server.indexOf("/");
  return slash === -1 ? server : server.slice(0, slash);
}

/** The host without its port: what DNS is asked about. */
export function hostWithoutPort(hostname: string): string {
  if (hostname.startsWith("[")) return hostname.slice(0, hostname.indexOf("]") + 1);
  const colon = hostname.lastIndexOf(":");
  return colon === -1 ? hostname : hostname.slice(0, colon);
}

/**
 * What the end user meant: `https://GitLab.example.com/` and
 * `gitlab.example.com.` both mean `gitlab.example.com`, and
 * `https://Example.com/GitLab/` means `example.com/GitLab` (a path keeps its
 * case: servers tell paths apart by it). Credentials and queries are not
 * part of a server address and make it invalid (serverProblem).
 */
export function normalizeHostname(typed: string): string {
  let value = typed.trim();
  const scheme = /^https?:\/\//i.exec(value);
  if (scheme) value = value.slice(scheme[0].length);
  const host = serverHost(value);
  // A single trailing slash after a scheme or a path is the same server.
  if ((scheme || host !== value) && value.endsWith("/") && !value.endsWith("//")) value = value.slice(0, -1);
  // A fully qualified name's final dot names the same host.
  return host.toLowerCase().replace(/\.(?=(:\d+)?$)/, "") + value.slice(host.length);
}
