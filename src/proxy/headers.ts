/**
 * Which headers cross the proxy, in each direction.
 *
 * RFC 9110 §7.6.1: a proxy removes the hop-by-hop fields (Connection,
 * Proxy-Connection, Keep-Alive, TE, Transfer-Encoding, Upgrade) and every
 * field the Connection header names. On the way up the broker also removes
 * what is its own or the app's and must not reach a third party: the
 * broker's `Authorization`, cookies for the broker's origin, client
 * addresses (`X-Forwarded-*`, `Forwarded`: the upstream learns nothing about
 * who calls the broker), and any header the credential will be injected
 * into. On the way down it removes `Set-Cookie`, since a cookie set by an
 * upstream through the broker would land on the broker's origin, where the
 * connect flow keeps its session.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

/** RFC 9110 §7.6.1 plus the legacy Proxy-Connection and HTTP/2's upgrade setting. */
const HOP_BY_HOP = new Set(["connection", "proxy-connection", "keep-alive", "te", "transfer-encoding", "upgrade", "http2-settings", "trailer"]);

/** Never forwarded upstream: the broker's own credentials, the app's cookies, where the call came from. */
const NOT_FORWARDED_UP = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "host",
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-port",
  "x-forwarded-prefix",
  "x-real-ip",
  // Handled by the node server (it already answered 100 Continue); undici refuses to send it.
  "expect",
  // Set again from what is actually sent.
  "content-length",
  // The broker sends its own request id.
  "x-request-id",
]);

/** Never passed down to the app. */
const NOT_FORWARDED_DOWN = new Set(["set-cookie", "proxy-authenticate", "x-request-id"]);

/**
 * Hardening of every proxied response: it is served from the broker's
 * origin, so an upstream HTML or SVG body must not run script there.
 */
export const PROXY_RESPONSE_HARDENING: Readonly<Record<string, string>> = Object.freeze({
  "content-security-policy": "default-src 'none'; sandbox",
  "x-content-type-options": "nosniff",
});

const NONE: ReadonlySet<string> = new Set();
/** `Connection: keep-alive` and `close`, on nearly every message: no set is built for them. */
const KEEP_ALIVE: ReadonlySet<string> = new Set(["keep-alive"]);
const CLOSE: ReadonlySet<string> = new Set(["close"]);

/** The field names a `Connection` header lists (RFC 9110 §7.6.1), lower-cased. */
export function connectionOptions(connection: string | string[] | undefined): ReadonlySet<string> {
  if (connection === undefined) return NONE;
  if (connection === "keep-alive") return KEEP_ALIVE;
  if (connection === "close") return CLOSE;
  const names = new Set<string>();
  for (const value of Array.isArray(connection) ? connection : [connection]) {
    for (const token of value.split(",")) {
      const name = token.trim().toLowerCase();
      if (name) names.add(name);
    }
  }
  return names;
}

/**
 * The headers to send upstream: the app's end-to-end headers minus what
 * must not leave the broker, minus `dropped` (the header the credential goes
 * in), plus the broker's request id. Names are lower-case.
 */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, requestId: string, dropped?: string): Record<string, string | string[]> {
  const named = connectionOptions(incoming.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || HOP_BY_HOP.has(name) || NOT_FORWARDED_UP.has(name) || named.has(name) || name === dropped) continue;
    out[name] = value;
  }
  out["x-request-id"] = requestId;
  return out;
}

/**
 * The upstream's response headers as the app gets them: end-to-end headers
 * untouched (status-related ones such as Retry-After and X-RateLimit-* in
 * particular), hop-by-hop and `Set-Cookie` removed, hardening added.
 * `Content-Length` is kept: the body is relayed byte for byte.
 */
export function downstreamResponseHeaders(upstream: IncomingHttpHeaders | Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  const named = connectionOptions(upstream.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || HOP_BY_HOP.has(name) || NOT_FORWARDED_DOWN.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return Object.assign(out, PROXY_RESPONSE_HARDENING);
}
