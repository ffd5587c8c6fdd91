/**
 * The outbound client's caches stay bounded (src/net/outbound.ts): per-server
 * hostnames are typed by people who need not be signed in, so each distinct
 * name must not leave a DNS answer or a connection pool behind for good.
 * Names are resolved by an injected lookup, so no test needs real DNS.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, type Dispatcher } from "undici";
import { AddressPolicy } from "../../../src/net/address-policy.js";
import { CidrList } from "../../../src/net/cidr-list.js";
import { Outbound, type LookupAll } from "../../../src/net/outbound.js";

/** A resolver that gives every name its own public address and counts the questions. */
function countingLookup(): LookupAll & { asked: string[] } {
  const asked: string[] = [];
  const answer = async (hostname: string) => {
    asked.push(hostname);
    return [{ address: `93.184.216.${asked.length}`, family: 4 }];
  };
  return Object.assign(answer, { asked });
}

function closed(dispatcher: Dispatcher): boolean {
  assert.ok(dispatcher instanceof Agent);
  return dispatcher.closed;
}

describe("outbound DNS cache", () => {
  it("remembers at most maxResolved names, forgetting the least recently used", async () => {
    const lookup = countingLookup();
    const outbound = new Outbound(new AddressPolicy(new CidrList([])), { lookup, maxResolved: 3 });
    try {
      for (let i = 0; i < 50; i++) await outbound.resolve(`host-${i}.example`);
      assert.equal(lookup.asked.length, 50);
      for (const i of [47, 48, 49]) await outbound.resolve(`host-${i}.example`);
      assert.equal(lookup.asked.length, 50, "the last three names are still cached");
      await outbound.resolve("host-0.example");
      assert.deepEqual(lookup.asked.slice(50), ["host-0.example"], "the first name was forgotten and is asked again");
    } finally {
      await outbound.close();
    }
  });

  it("checkedNow answers without a lookup only what is known: an allowed literal or a cached answer", async () => {
    const lookup = countingLookup();
    const outbound = new Outbound(new AddressPolicy(new CidrList([])), { lookup });
    try {
      assert.deepEqual(outbound.checkedNow("93.184.216.34"), { address: "93.184.216.34", family: 4 });
      assert.deepEqual(outbound.checkedNow("[2606:2800:220:1::]"), { address: "2606:2800:220:1::", family: 6 });
      assert.equal(outbound.checkedNow("127.0.0.1"), undefined, "a refused literal is left to resolve, which says why");
      await assert.rejects(outbound.resolve("127.0.0.1"), { name: "ForbiddenHostError", message: "127.0.0.1 is a private or reserved address" });
      assert.equal(outbound.checkedNow("api.example"), undefined, "a name not resolved yet");
      assert.equal(lookup.asked.length, 0, "checkedNow never looks up");
      await outbound.resolve("api.example");
      assert.deepEqual(outbound.checkedNow("api.example"), { address: "93.184.216.1", family: 4 });
      assert.equal(lookup.asked.length, 1);
    } finally {
      await outbound.close();
    }
  });

  it("a cached answer is used within its time to live and asked for again after it", async () => {
    const lookup = countingLookup();
    const outbound = new Outbound(new AddressPolicy(new CidrList([])), { lookup, resolveCacheMs: 200 });
    try {
      assert.equal((await outbound.resolve("api.example")).address, "93.184.216.1");
      assert.equal((await outbound.resolve("api.example")).address, "93.184.216.1");
      assert.equal(lookup.asked.length, 1);
      await sleep(300);
      assert.equal((await outbound.resolve("api.example")).address, "93.184.216.2", "the new answer is used");
      assert.equal(lookup.asked.length, 2);
    } finally {
      await outbound.close();
    }
  });
});

describe("outbound connection pools", () => {
  it("keeps at most maxAgents pools and closes the least recently used one", async () => {
    const outbound = new Outbound(new AddressPolicy(new CidrList([])), { maxAgents: 2 });
    try {
      const pools = Array.from({ length: 5 }, (_, i) => outbound.dispatcherFor(`https://host-${i}.example`, { address: `93.184.216.${i + 1}`, family: 4 }));
      assert.deepEqual(pools.map(closed), [true, true, true, false, false]);
      assert.equal(outbound.dispatcherFor("https://host-4.example", { address: "93.184.216.5", family: 4 }), pools[4], "a kept pool is reused");
    } finally {
      await outbound.close();
    }
  });

  it("an evicted pool lets the request it is serving finish before it closes", async () => {
    let finish!: () => void;
    const released = new Promise<void>((resolve) => (finish = resolve));
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first half, ");
      void released.then(() => res.end("second half"));
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as { port: number }).port;
    const outbound = new Outbound(new AddressPolicy(CidrList.of(["127.0.0.0/8"])), { maxAgents: 1 });
    try {
      const url = `http://127.0.0.1:${port}/`;
      const res = await outbound.fetch(url);
      const pool = outbound.dispatcherFor(new URL(url).origin, { address: "127.0.0.1", family: 4 });
      outbound.dispatcherFor("https://other.example", { address: "93.184.216.34", family: 4 });
      assert.equal(closed(pool), true, "the evicted pool takes no new requests");
      finish();
      assert.equal(await res.text(), "first half, second half");
    } finally {
      finish();
      await outbound.close();
      server.close();
    }
  });
});
