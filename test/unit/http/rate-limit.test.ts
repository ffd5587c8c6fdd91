/**
 * Which counter an address falls in (src/http/rate-limit.ts): one host of
 * IPv6 usually holds a whole /64, so counting per address would give it
 * 2^64 budgets; IPv4-mapped IPv6 is the IPv4 client it names.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { addressBucket } from "../../../src/http/rate-limit.js";

describe("rate-limit address buckets", () => {
  it("IPv4 addresses count one by one", () => {
    assert.equal(addressBucket("127.0.0.1"), "127.0.0.1");
    assert.notEqual(addressBucket("10.0.0.1"), addressBucket("10.0.0.2"));
  });

  it("an IPv4-mapped IPv6 address counts as its IPv4 address", () => {
    assert.equal(addressBucket("::ffff:127.0.0.1"), "127.0.0.1");
    assert.equal(addressBucket("::FFFF:10.1.2.3"), "10.1.2.3");
    assert.equal(addressBucket("::ffff:7f00:1"), "127.0.0.1", "written in hex, as a proxy may write it");
    assert.equal(addressBucket("0:0:0:0:0:ffff:10.1.2.3"), "10.1.2.3");
  });

  it("IPv6 addresses of one /64 share a counter; another /64 has its own", () => {
    assert.equal(addressBucket("2001:db8:1:2::1"), addressBucket("2001:db8:1:2:ffff:ffff:ffff:ffff"));
    assert.equal(addressBucket("2001:db8:1:2::1"), "20010db800010002::/64");
    assert.notEqual(addressBucket("2001:db8:1:2::1"), addressBucket("2001:db8:1:3::1"));
  });

  it("a request without an address (a destroyed socket) still lands in a counter", () => {
    assert.equal(addressBucket(undefined), "unknown");
  });
});
