/**
 * The address a request came from, for the per-address rate limits, the
 * device flow's failed-code counter and the logs.
 *
 * Behind reverse proxies the socket's peer is the nearest proxy. Each proxy
 * appends the address it saw to `X-Forwarded-For`, so with TRUST_PROXY_HOPS
 * proxies in front of the broker the client is the address that many hops
 * back from the socket: the last proxy's entry is the socket peer's view,
 * and so on. Entries further left were written by whoever sent the request
 * and can say anything, so they are never read: a client cannot choose its
 * own address by sending the header. With 0 (the default) the header is
 * ignored, as it must be when clients reach the broker directly.
 *
 * A chain shorter than the hop count (a request that skipped a proxy) gives
 * its leftmost address; an entry that is not an IP address, or is empty,
 * stops the walk at the nearest address before it, the most that can be
 * trusted.
 *
 * Not proxy-addr (express's): its header parser drops empty entries, so an
 * empty field where a trusted proxy's address belongs (a proxy that had none
 * to write, or an empty header line joined onto the client's) shifts the
 * count one entry left, into what the client wrote: `X-Forwarded-For:
 * 6.6.6.6, ` behind one proxy gives 6.6.6.6. It also keeps ports, and fails
 * on a header given as an array.
 */
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";

export function clientAddress(req: IncomingMessage, trustedHops: number): string | undefined {
  const peer = req.socket.remoteAddress;
  const header = req.headers["x-forwarded-for"];
  if (trustedHops === 0 || header === undefined || peer === undefined) return peer;
  // Several header lines are one list (RFC 9110 §5.3), in order.
  const entries = (Array.isArray(header) ? header.join(",") : header).split(",");
  let address = peer;
  for (let hop = 0; hop < trustedHops; hop++) {
    const entry = entries.pop();
    if (entry === undefined) break;
    const candidate = withoutPort(entry.trim());
    if (isIP(candidate) === 0) break;
    address = candidate;
  }
  return address;
}

/**
 * Some proxies write `203.0.113.7:51234` or `[2001:db8::1]:51234`; the port
 * says nothing about who the client is.
 */
function withoutPort(entry: string): string {
  if (entry.startsWith("[")) {
    const end = entry.indexOf("]");
    return end > 0 ? entry.slice(1, end) : entry;
  }
  const colon = entry.indexOf(":");
  return colon > 0 && colon === entry.lastIndexOf(":") ? entry.slice(0, colon) : entry;
}
