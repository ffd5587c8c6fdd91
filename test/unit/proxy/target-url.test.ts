import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { namedBaseOf, proxyTargetUrl } from "../../../src/proxy/target-url.js";
import { parseConnectorText } from "../../../src/connectors/loader.js";
import { fillTemplate } from "../../../src/connectors/template.js";

const SHIPPED = fileURLToPath(new URL("../../../connectors/", import.meta.url));

/** Every base of every shipped connector file, filled as an account would fill it: `[label, base URL]`. */
function shippedBases(): [string, string][] {
  const bases: [string, string][] = [];
  for (const file of readdirSync(SHIPPED).filter((name) => name.endsWith(".yaml"))) {
    const connector = parseConnectorText(file, readFileSync(`${SHIPPED}${file}`, "utf8"), {});
    if (!connector.api) continue;
    const values = Object.fromEntries(
      Object.entries(connector.values).map(([name, spec]) => [name, spec.as === "origin" ? "https://acme.example.com" : "cloud-1"]),
    );
    const fill = (template: string) => fillTemplate(template, { hostname: connector.hostname ? "acme.example.com" : undefined, values });
    bases.push([`${connector.id} api.baseUrl`, fill(connector.api.baseUrl)]);
    for (const [name, template] of Object.entries(connector.api.bases)) bases.push([`${connector.id} api.bases.${name}`, fill(template)]);
  }
  return bases;
}

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

  it("encodes what a URL path cannot hold as a URL's path setter does: a # stays in the path, never starts a fragment", () => {
    assert.equal(proxyTargetUrl(base, "files/a#b?x=1").href, "https://api.acme.example/v2/files/a%23b?x=1");
    assert.equal(proxyTargetUrl(base, "files/a#b").hash, "");
    assert.equal(proxyTargetUrl(base, 'files/a b"c<d>?q=a b').href, "https://api.acme.example/v2/files/a%20b%22c%3Cd%3E?q=a%20b");
    assert.equal(proxyTargetUrl(base, "files/caf\u00e9?n=\u00e9").href, "https://api.acme.example/v2/files/caf%C3%A9?n=%C3%A9");
    assert.equal(proxyTargetUrl(base, "files?").href, "https://api.acme.example/v2/files");
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

describe("the proxied path can never leave any base: api.baseUrl and each of api.bases, of every shipped connector", () => {
  const bases = shippedBases();
  it("the shipped files have named bases to check", () => assert.ok(bases.length > 20 && bases.some(([label]) => label.includes("api.bases."))));
  const escapes = ["../admin", "%2e%2e/admin", "files%2f..%2fadmin", "//evil.example/x", "@evil.example/x", "..;/admin", "files/..", "..\\admin"];
  for (const [label, baseUrl] of bases) {
    it(`${label}: ${baseUrl}`, () => {
      const joined = proxyTargetUrl(baseUrl, "/x/y?z=1");
      assert.ok(joined.href.startsWith(baseUrl.replace(/\/$/, "") + "/"), joined.href);
      for (const path of escapes)
        assert.throws(
          () => proxyTargetUrl(baseUrl, path),
          (err: { code?: string }) => err.code === "invalid_request",
          `${path} must be refused under ${baseUrl}`,
        );
    });
  }
});

describe("naming a base: /@<name>/<path>", () => {
  it("splits the name from the path and query; any other path names none", () => {
    assert.deepEqual(namedBaseOf("/@upload/files?uploadType=media"), { name: "upload", rest: "/files?uploadType=media" });
    assert.deepEqual(namedBaseOf("@beta/me"), { name: "beta", rest: "/me" });
    assert.deepEqual(namedBaseOf("/@beta?x=1"), { name: "beta", rest: "?x=1" });
    assert.deepEqual(namedBaseOf("/@beta"), { name: "beta", rest: "" });
    assert.equal(namedBaseOf("/files/@x"), undefined);
    assert.equal(namedBaseOf("/files"), undefined);
  });
  it("what follows the name keeps every path rule", () => {
    for (const path of ["/@beta/../v1.0/me", "/@beta//evil.example/x", "/@beta/%2e%2e/x", "/@beta/@evil.example"]) {
      const named = namedBaseOf(path)!;
      assert.throws(
        () => proxyTargetUrl("https://graph.microsoft.com/beta", named.rest),
        (err: { code?: string }) => err.code === "invalid_request",
        path,
      );
    }
  });
});
