/**
 * Which address a request is counted and logged under (src/http/client-address.ts):
 * the socket's peer, or with TRUST_PROXY_HOPS the entry that many proxies back
 * in X-Forwarded-For, never one the client wrote itself.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { clientAddress } from "../../../src/http/client-address.js";

function request(peer: string | undefined, forwardedFor?: string | string[]): IncomingMessage {
  return { socket: { remoteAddress: peer }, headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor } } as unknown as IncomingMessage;
}

describe("client address", () => {
  it("with no trusted proxy the header is ignored: the socket's peer is the client", () => {
    const of = (req: IncomingMessage) => clientAddress(req, 0);
    assert.equal(of(request("198.51.100.9", "203.0.113.7")), "198.51.100.9");
    assert.equal(of(request(undefined, "203.0.113.7")), undefined, "a closed socket has no address, whatever the header says");
  });

  it("behind one proxy the client is the last entry, the one the proxy appended", () => {
    const of = (req: IncomingMessage) => clientAddress(req, 1);
    assert.equal(of(request("10.0.0.2", "203.0.113.7")), "203.0.113.7");
    assert.equal(of(request("10.0.0.2", "1.1.1.1, 203.0.113.7")), "203.0.113.7", "an entry the client sent ahead of the proxy's is not believed");
    assert.equal(of(request("10.0.0.2", ["1.1.1.1", "203.0.113.7"])), "203.0.113.7", "several header lines are one list, in order");
  });

  it("behind two proxies the client is two entries back; the nearest proxy's own entry is skipped", () => {
    const of = (req: IncomingMessage) => clientAddress(req, 2);
    assert.equal(of(request("10.0.0.2", "6.6.6.6, 203.0.113.7, 10.0.0.1")), "203.0.113.7");
  });

  it("a request without the header, or with fewer entries than hops, gives the furthest address known", () => {
    assert.equal(clientAddress(request("10.0.0.2"), 1), "10.0.0.2");
    assert.equal(clientAddress(request("10.0.0.2", "203.0.113.7"), 3), "203.0.113.7");
  });

  it("an entry that is not an address stops the walk at the nearest address before it", () => {
    assert.equal(clientAddress(request("10.0.0.2", "unknown"), 1), "10.0.0.2");
    assert.equal(clientAddress(request("10.0.0.2", "not-an-ip, 10.0.0.1"), 2), "10.0.0.1");
    assert.equal(clientAddress(request("10.0.0.2", ""), 1), "10.0.0.2");
  });

  it("an empty entry where a trusted proxy's belongs stops the walk; it is not skipped to read what the client wrote", () => {
    assert.equal(clientAddress(request("10.0.0.2", "6.6.6.6, "), 1), "10.0.0.2");
    assert.equal(clientAddress(request("10.0.0.2", "6.6.6.6, , 10.0.0.1"), 2), "10.0.0.1");
  });

  it("ports some proxies add are dropped; IPv6 entries are kept whole", () => {
    const of = (req: IncomingMessage) => clientAddress(req, 1);
    assert.equal(of(request("10.0.0.2", "203.0.113.7:51234")), "203.0.113.7");
    assert.equal(of(request("10.0.0.2", "[2001:db8::1]:51234")), "2001:db8::1");
    assert.equal(of(request("10.0.0.2", "2001:db8::1")), "2001:db8::1");
  });
});
