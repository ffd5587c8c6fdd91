/**
 * `hasScope` reads a space-separated scope string (RFC 6749 §3.3) without
 * splitting it: the proxy asks it on every call. A scope is a whole token,
 * never a part of one.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { hasScope } from "../../../src/oauth/scopes.js";

describe("hasScope", () => {
  it("finds a scope at the start, in the middle, at the end, or alone", () => {
    assert.ok(hasScope("proxy", "proxy"));
    assert.ok(hasScope("proxy accounts:read", "proxy"));
    assert.ok(hasScope("openid proxy accounts:read", "proxy"));
    assert.ok(hasScope("openid proxy", "proxy"));
  });

  it("never takes a part of a scope for the scope", () => {
    assert.equal(hasScope("proxyx", "proxy"), false);
    assert.equal(hasScope("xproxy", "proxy"), false);
    assert.equal(hasScope("proxy:read admin", "proxy"), false);
    assert.equal(hasScope("superadmin", "admin"), false);
    assert.equal(hasScope("admin_ro proxyy", "admin"), false);
  });

  it("finds a scope after a part of it was seen first", () => {
    assert.ok(hasScope("proxyx proxy", "proxy"));
    assert.ok(hasScope("xadmin admin", "admin"));
  });

  it("finds nothing in an empty scope, and no empty scope anywhere", () => {
    assert.equal(hasScope("", "proxy"), false);
    assert.equal(hasScope("openid  proxy", ""), false);
    assert.equal(hasScope("", ""), false);
  });
});
