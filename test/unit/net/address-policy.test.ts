/**
 * Which addresses the broker may connect to (src/net/address-policy.ts):
 * globally reachable unicast only, as the IANA special-purpose registries
 * say, with IPv6 forms that embed an IPv4 address refused in every
 * notation; BROKER_ALLOW_PRIVATE_HOSTS opens exactly the ranges it lists.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { once } from "node:events";
import { AddressPolicy } from "../../../src/net/address-policy.js";
import { CidrList, parseCidr } from "../../../src/net/cidr-list.js";
import { Outbound, ForbiddenHostError } from "../../../src/net/outbound.js";

const strict = new AddressPolicy(new CidrList([]));
const allowing = (...blocks: string[]) => new AddressPolicy(CidrList.of(blocks));

/** One block of the registries (or of unassigned space) and addresses in it, in each notation it has. */
const NOT_GLOBALLY_REACHABLE: [block: string, addresses: string[]][] = [
  ["0.0.0.0/8 this network", ["0.0.0.0", "0.1.2.3"]],
  ["10.0.0.0/8 private", ["10.1.2.3"]],
  ["100.64.0.0/10 CGNAT", ["100.64.0.1", "100.127.255.254"]],
  ["127.0.0.0/8 loopback", ["127.0.0.1", "127.255.0.1"]],
  ["169.254.0.0/16 link-local, cloud metadata", ["169.254.169.254"]],
  ["172.16.0.0/12 private", ["172.16.0.1", "172.31.255.255"]],
  ["192.0.0.0/24 IETF protocol assignments, NAT64 discovery", ["192.0.0.1", "192.0.0.170"]],
  ["192.0.2.0/24 TEST-NET-1", ["192.0.2.1"]],
  ["192.88.99.0/24 6to4 relay anycast", ["192.88.99.1"]],
  ["192.168.0.0/16 private", ["192.168.1.1"]],
  ["198.18.0.0/15 benchmarking", ["198.18.0.1", "198.19.255.254"]],
  ["198.51.100.0/24 TEST-NET-2", ["198.51.100.7"]],
  ["203.0.113.0/24 TEST-NET-3", ["203.0.113.7"]],
  ["224.0.0.0/4 multicast", ["224.0.0.1", "239.255.255.250"]],
  ["240.0.0.0/4 reserved, limited broadcast", ["240.0.0.1", "255.255.255.255"]],
  [
    "::ffff:0:0/96 IPv4-mapped, checked as the IPv4 address",
    ["::ffff:127.0.0.1", "::ffff:7f00:1", "::FFFF:169.254.169.254", "::ffff:a9fe:a9fe", "0:0:0:0:0:ffff:10.0.0.1"],
  ],
  ["::/128 unspecified", ["::", "0:0:0:0:0:0:0:0"]],
  ["::1/128 loopback", ["::1"]],
  ["::/96 IPv4-compatible", ["::127.0.0.1", "::7f00:1", "::10.0.0.1", "::a00:1", "::8.8.8.8"]],
  ["::ffff:0:0:0/96 IPv4-translated", ["::ffff:0:127.0.0.1", "::ffff:0:7f00:1"]],
  ["64:ff9b::/96 NAT64", ["64:ff9b::127.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::8.8.8.8"]],
  ["64:ff9b:1::/48 NAT64 local use", ["64:ff9b:1::127.0.0.1", "64:ff9b:1::7f00:1", "64:ff9b:1:ffff::1"]],
  ["100::/64 discard-only", ["100::1"]],
  ["100:0:0:1::/64 dummy prefix", ["100:0:0:1::1"]],
  ["2001::/32 Teredo", ["2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:4136:e378:8000:63bf:127.0.0.1"]],
  ["2001:2::/48 benchmarking", ["2001:2::1"]],
  ["2001:10::/28 ORCHID", ["2001:10::1"]],
  ["2001:20::/28 ORCHIDv2", ["2001:20::1", "2001:2f:ffff::1"]],
  ["2001:30::/28 drone remote ID tags", ["2001:30::1"]],
  ["2001:db8::/32 documentation", ["2001:db8::1"]],
  ["2002::/16 6to4", ["2002:7f00:1::1", "2002:a9fe:a9fe::1", "2002::127.0.0.1"]],
  ["3fff::/20 documentation", ["3fff::1", "3fff:fff:ffff::1"]],
  ["5f00::/16 SRv6", ["5f00::1"]],
  ["fc00::/7 unique local, AWS metadata", ["fc00::1", "fd00:ec2::254"]],
  ["fe80::/10 link-local", ["fe80::1", "fe80::1%eth0"]],
  ["ff00::/8 multicast", ["ff02::1"]],
  ["IPv6 outside 2000::/3: reserved, unassigned", ["1::1", "64:ff9b::ffff:7f00:1", "4000::1", "e000::1", "fec0::1"]],
];

describe("outbound address policy (SSRF)", () => {
  for (const [block, addresses] of NOT_GLOBALLY_REACHABLE) {
    it(`refuses ${block}`, () => {
      for (const address of addresses) assert.equal(strict.permits(address), false, address);
    });
  }

  it("allows public addresses, in either notation of IPv4", () => {
    for (const address of [
      "93.184.216.34",
      "8.8.8.8",
      "172.32.0.1",
      "198.20.0.1",
      "::ffff:8.8.8.8",
      "::ffff:808:808",
      "2606:4700:4700::1111",
      "2001:4860:4860::8888",
      "2001:200::1",
      "2003::1",
    ]) {
      assert.equal(strict.permits(address), true, address);
    }
  });

  it("allows exactly the ranges listed in BROKER_ALLOW_PRIVATE_HOSTS", () => {
    const policy = allowing("127.0.0.0/8", "10.1.0.0/16");
    assert.equal(policy.permits("127.0.0.1"), true);
    assert.equal(policy.permits("10.1.200.3"), true);
    assert.equal(policy.permits("10.2.0.1"), false);
    assert.equal(policy.permits("169.254.169.254"), false);
    assert.equal(policy.permits("::1"), false);
  });

  it("an allowed IPv4 range covers its IPv4-mapped form, not the IPv6 addresses that merely embed it", () => {
    const policy = allowing("127.0.0.0/8");
    assert.equal(policy.permits("::ffff:127.0.0.1"), true);
    assert.equal(policy.permits("::ffff:7f00:1"), true);
    for (const address of ["::127.0.0.1", "::ffff:0:127.0.0.1", "64:ff9b::127.0.0.1", "64:ff9b:1::7f00:1", "2002:7f00:1::1"])
      assert.equal(policy.permits(address), false, address);
  });

  it("an allowed IPv4-mapped range covers the IPv4 addresses it names", () => {
    const policy = allowing("::ffff:10.0.0.0/104");
    assert.equal(policy.permits("10.0.0.1"), true);
    assert.equal(policy.permits("::ffff:10.0.0.1"), true);
    assert.equal(policy.permits("11.0.0.1"), true, "a public address stays allowed");
    assert.equal(policy.permits("127.0.0.1"), false);
  });

  it("an operator can allow a refused IPv6 range, such as NAT64 behind an IPv6-only broker", () => {
    const policy = allowing("64:ff9b::/96");
    assert.equal(policy.permits("64:ff9b::8.8.8.8"), true);
    assert.equal(policy.permits("64:ff9b::7f00:1"), true);
    assert.equal(policy.permits("64:ff9b:1::8.8.8.8"), false);
  });

  it("refuses anything that is not an IP address", () => {
    for (const text of ["localhost", "", "[::1]", "127.1", "0x7f000001", "2130706433"]) assert.equal(strict.permits(text), false, JSON.stringify(text));
  });
});

describe("CIDR blocks as written in BROKER_ALLOW_PRIVATE_HOSTS (parseCidr)", () => {
  it("reads a block, and a bare address as a block of one", () => {
    assert.deepEqual(parseCidr("10.0.0.0/8"), { text: "10.0.0.0/8", address: "10.0.0.0", prefix: 8, family: "ipv4" });
    assert.deepEqual(parseCidr("10.1.2.3"), { text: "10.1.2.3", address: "10.1.2.3", prefix: 32, family: "ipv4" });
    assert.deepEqual(parseCidr("::1"), { text: "::1", address: "::1", prefix: 128, family: "ipv6" });
    assert.deepEqual(parseCidr("fd00::/8"), { text: "fd00::/8", address: "fd00::", prefix: 8, family: "ipv6" });
  });

  it("takes every prefix from 0 up to the family's length, and none beyond", () => {
    for (const [text, prefix] of [
      ["0.0.0.0/0", 0],
      ["10.1.2.3/32", 32],
      ["::/0", 0],
      ["::1/128", 128],
      ["2001:db8::/100", 100],
    ] as const)
      assert.equal(parseCidr(text)?.prefix, prefix, text);
    for (const text of ["10.0.0.0/33", "::/129", "10.0.0.0/100"]) assert.equal(parseCidr(text), undefined, text);
  });

  it("refuses a prefix that is not one to three digits, and a second slash", () => {
    for (const text of ["10.0.0.0/", "10.0.0.0/a8", "10.0.0.0/8a", "10.0.0.0/ 8", "10.0.0.0/-8", "::/0128", "10.0.0.0/0032", "10.0.0.0/8/8", "10.0.0.0//8"])
      assert.equal(parseCidr(text), undefined, text);
  });

  it("refuses what is not an IP address before the slash", () => {
    for (const text of ["", "/8", "localhost/8", "10.0.0/8", "[::1]/128"]) assert.equal(parseCidr(text), undefined, JSON.stringify(text));
  });

  it("a block in the code that does not parse is a programming mistake", () => {
    assert.throws(() => CidrList.of(["10.0.0.0/8", "10.0.0.0/33"]), { name: "TypeError", message: '"10.0.0.0/33" is not a CIDR block' });
  });

  it("answers the same for an address asked twice (the remembered answer)", () => {
    const list = CidrList.of(["10.0.0.0/8", "fd00::/8"]);
    for (let round = 0; round < 2; round++) {
      assert.equal(list.includes("10.9.9.9"), true);
      assert.equal(list.includes("11.0.0.1"), false);
      assert.equal(list.includes("fd00::1"), true);
      assert.equal(list.includes("fe80::1"), false);
      assert.equal(list.includes("not an address"), false);
    }
  });
});

describe("outbound requests", () => {
  it("refuse a host that resolves to a loopback address and reach it once allowed", async () => {
    const server = createServer((_req, res) => res.end("hello"));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as { port: number }).port;
    const strictOutbound = new Outbound(strict);
    const open = new Outbound(allowing("127.0.0.0/8", "::1/128"));
    try {
      await assert.rejects(strictOutbound.fetch(`http://127.0.0.1:${port}/`), ForbiddenHostError);
      await assert.rejects(strictOutbound.fetch(`http://localhost:${port}/`), ForbiddenHostError);
      assert.equal(await (await open.fetch(`http://127.0.0.1:${port}/`)).text(), "hello");
      await assert.rejects(open.fetch(`file:///etc/passwd`), ForbiddenHostError);
    } finally {
      await strictOutbound.close();
      await open.close();
      server.close();
    }
  });

  it("connects to the pinned, checked address whatever the hostname resolves to now (no DNS rebinding)", async () => {
    const server = createServer((req, res) => res.end(`host=${req.headers.host}`));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as { port: number }).port;
    const outbound = new Outbound(allowing("127.0.0.0/8"));
    try {
      // "rebind.invalid" does not resolve at all; the pinned address is used, the Host header is kept.
      const res = await outbound.fetch(`http://rebind.invalid:${port}/`, { pinned: { address: "127.0.0.1", family: 4 } });
      assert.equal(await res.text(), `host=rebind.invalid:${port}`);
    } finally {
      await outbound.close();
      server.close();
    }
  });

  it("does not follow redirects (a redirect could point inside the network)", async () => {
    const server = createServer((_req, res) => {
      res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/" });
      res.end();
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as { port: number }).port;
    const outbound = new Outbound(allowing("127.0.0.0/8"));
    try {
      const res = await outbound.fetch(`http://127.0.0.1:${port}/`);
      assert.equal(res.status, 302);
    } finally {
      await outbound.close();
      server.close();
    }
  });
});
