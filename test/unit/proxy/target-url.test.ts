import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { proxyTargetUrl } from "../../../src/proxy/target-url.js";

describe("the proxied path can never leave api.baseUrl", () => {
  const base = "https://api.acme.example/v2";

  it("joins a plain path and keeps the query", () => {
    assert.equal(proxyTargetUrl(base, "files/1?fields=a,b&x=%20y").href, "https://api.acme.example/v2/files/1?fields=a,b&x=%20y");
    assert.equal(proxyTargetUrl(`${base}/`, "/me").href, "https://api.acme.example/v2/me");
    assert.equal(proxyTargetUrl("https://api.acme.example", "me").href, "https://api.acme.example/me");
    assert.equal(proxyTargetUrl(base, "files/a%20b").href, "https://api.acme.example/v2/files/a%20b");
    assert.equal(
      proxyTargetUrl(base, "files/a;v=1/..x").href,
      "https://api.acme.example/v2/files/a;v=1/..x",
      "path parameters and dotted names are not traversal",
    );
  });

  for (const [path, why] of [
    ["../admin", "dot-dot segment"],
    ["files/../../admin", "nested dot-dot"],
    ["./x", "dot segment"],
    ["%2e%2e/admin", "encoded dot-dot"],
    ["%2E%2E%2Fadmin", "encoded upper-case"],
    ["files%2f..%2fadmin", "encoded slash"],
    ["..\\admin", "backslash"],
    ["%5c..%5cadmin", "encoded backslash"],
    ["//evil.example/x", "authority"],
    ["https://evil.example/x", "absolute URL"],
    ["/https://evil.example/x", "absolute URL after the prefix's slash"],
    ["///evil.example/x", "authority after the prefix's slash"],
    ["@evil.example/x", "at sign"],
    ["user%40evil.example", "encoded at"],
    ["%252e%252e/admin", "double encoding"],
    ["files/%00", "encoded NUL"],
    ["files\n/x", "control character"],
    ["..;/admin", "dot-dot with a path parameter (servlet traversal)"],
    ["files/..;jsessionid=x/admin", "nested dot-dot with a path parameter"],
    [".;x/admin", "dot with a path parameter"],
    ["/../admin", "leading slash then dot-dot"],
    ["files/..", "trailing dot-dot"],
  ]) {
    it(`refuses ${why}: ${JSON.stringify(path)}`, () => {
      assert.throws(
        () => proxyTargetUrl(base, path!),
        (err: { code?: string }) => err.code === "invalid_request",
      );
    });
  }
});
