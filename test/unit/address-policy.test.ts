import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { once } from "node:events";
import { AddressPolicy } from "../../src/net/address-policy.js";
import { Outbound, ForbiddenHostError } from "../../src/net/outbound.js";
import { parseCidr } from "../../src/config.js";

describe("outbound address policy (SSRF)", () => {
  const strict = new AddressPolicy([]);

  it("refuses private, loopback, link-local, metadata, CGNAT, multicast and reserved addresses", () => {
    for (const address of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00:ec2::254", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1"]) {
      assert.equal(strict.permits(address), false, address);
    }
  });

  it("allows public addresses", () => {
    for (const address of ["93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) assert.equal(strict.permits(address), true, address);
  });

  it("allows exactly the ranges listed in BROKER_ALLOW_PRIVATE_HOSTS", () => {
    const policy = new AddressPolicy([parseCidr("127.0.0.0/8")!, parseCidr("10.1.0.0/16")!]);
    assert.equal(policy.permits("127.0.0.1"), true);
    assert.equal(policy.permits("10.1.200.3"), true);
    assert.equal(policy.permits("10.2.0.1"), false);
    assert.equal(policy.permits("169.254.169.254"), false);
    assert.equal(policy.permits("::1"), false);
  });

  it("refuses anything that is not an IP address", () => {
    assert.equal(strict.permits("localhost"), false);
    assert.equal(strict.permits(""), false);
  });
});

describe("outbound requests", () => {
  it("refuse a host that resolves to a loopback address and reach it once allowed", async () => {
    const server = createServer((_req, res) => res.end("hello"));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as { port: number }).port;
    const strict = new Outbound(new AddressPolicy([]));
    const open = new Outbound(new AddressPolicy([parseCidr("127.0.0.0/8")!, parseCidr("::1/128")!]));
    try {
      await assert.rejects(strict.fetch(`http://127.0.0.1:${port}/`), ForbiddenHostError);
      await assert.rejects(strict.fetch(`http://localhost:${port}/`), ForbiddenHostError);
      assert.equal(await (await open.fetch(`http://127.0.0.1:${port}/`)).text(), "hello");
      await assert.rejects(open.fetch(`file:///etc/passwd`), ForbiddenHostError);
    } finally {
      await strict.close();
      await open.close();
      server.close();
    }
  });

  it("connects to the pinned, checked address whatever the hostname resolves to now (no DNS rebinding)", async () => {
    const server = createServer((req, res) => res.end(`host=${req.headers.host}`));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as { port: number }).port;
    const outbound = new Outbound(new AddressPolicy([parseCidr("127.0.0.0/8")!]));
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
    const outbound = new Outbound(new AddressPolicy([parseCidr("127.0.0.0/8")!]));
    try {
      const res = await outbound.fetch(`http://127.0.0.1:${port}/`);
      assert.equal(res.status, 302);
    } finally {
      await outbound.close();
      server.close();
    }
  });
});
