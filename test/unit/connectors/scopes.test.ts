/**
 * Connector scopes nest the upstream ones (docs/authorization-server.md "Scopes"), and URL
 * templates of per-server connectors are filled or fail loudly.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { upstreamScopesFor } from "../../../src/connectors/scopes.js";
import { fillTemplate, hostnameAllowed, isPerServer } from "../../../src/connectors/template.js";
import { InvalidScope } from "../../../src/errors.js";
import { parseConnectorText } from "../../../src/connectors/loader.js";

const drive = {
  id: "acme-drive",
  scopes: { "files.read": ["drive.read"], "files.write": ["drive.read", "drive.write"], profile: ["openid", "email"] },
  defaultScopes: ["files.read", "profile"],
  allowRawScopes: false,
};

describe("upstream scopes for the connector scopes an app asked for", () => {
  it("maps each connector scope to its upstream scopes, de-duplicated in request order", () => {
    assert.deepEqual(upstreamScopesFor(drive, ["files.write", "files.read", "profile"]), ["drive.read", "drive.write", "openid", "email"]);
  });

  it("with no connector scope requested, maps the connector's defaultScopes", () => {
    assert.deepEqual(upstreamScopesFor(drive, []), ["drive.read", "openid", "email"]);
  });

  it("passes raw:<upstream scope> through where the connector allows raw scopes", () => {
    assert.deepEqual(upstreamScopesFor({ ...drive, allowRawScopes: true }, ["raw:drive.admin", "files.read", "raw:drive.read"]), ["drive.admin", "drive.read"]);
  });

  it("refuses raw:<upstream scope> where the connector does not allow raw scopes", () => {
    assert.throws(
      () => upstreamScopesFor(drive, ["raw:drive.admin"]),
      (err: unknown) => err instanceof InvalidScope && err.code === "invalid_scope" && /does not allow raw upstream scopes/.test(err.description),
    );
  });

  it("refuses a raw scope that names nothing", () => {
    assert.throws(() => upstreamScopesFor({ ...drive, allowRawScopes: true }, ["raw:"]), InvalidScope);
  });

  it("refuses a scope name the connector does not offer, naming it", () => {
    assert.throws(
      () => upstreamScopesFor(drive, ["files.read", "files.delete"]),
      (err: unknown) => err instanceof InvalidScope && /has no scope "files.delete"/.test(err.description),
    );
  });

  it("does not mistake an inherited property for a scope", () => {
    assert.throws(() => upstreamScopesFor(drive, ["constructor"]), InvalidScope);
  });
});

describe("filling URL templates", () => {
  it("replaces every {hostname}", () => {
    assert.equal(
      fillTemplate("https://{hostname}/api/v4?h={hostname}", { hostname: "gitlab.example.com" }),
      "https://gitlab.example.com/api/v4?h=gitlab.example.com",
    );
  });

  it("accepts a host with a port and an IP literal", () => {
    assert.equal(fillTemplate("http://{hostname}/x", { hostname: "127.0.0.1:8080" }), "http://127.0.0.1:8080/x");
    assert.equal(fillTemplate("http://{hostname}/x", { hostname: "[::1]:8080" }), "http://[::1]:8080/x");
  });

  it("leaves a template without placeholders as it is", () => {
    assert.equal(fillTemplate("https://api.example/v1", {}), "https://api.example/v1");
  });

  it("throws a TypeError when {hostname} is left unfilled", () => {
    assert.throws(() => fillTemplate("https://{hostname}/api", {}), TypeError);
  });

  it("throws a TypeError when any other placeholder is left", () => {
    assert.throws(() => fillTemplate("https://{tenant}.example/api", { hostname: "a.example" }), /placeholder \{tenant\} left unfilled/);
  });

  it("throws a TypeError for a hostname that would change the URL's meaning", () => {
    for (const hostname of ["evil.example/", "user@host.example", "a.example#", "a.example?x", "a b", ""]) {
      assert.throws(() => fillTemplate("https://{hostname}/api", { hostname }), TypeError, hostname);
    }
  });
});

describe("per-server connectors", () => {
  const gitlab = parseConnectorText(
    "connectors/gitlab.yaml",
    [
      "id: gitlab",
      "name: GitLab",
      "auth:",
      "  kind: oauth2",
      "  authorizationUrl: https://{hostname}/oauth/authorize",
      "  tokenUrl: https://{hostname}/oauth/token",
      "hostname:",
      '  pattern: "^[a-z0-9.-]+\\\\.example\\\\.com$"',
      "identity: { url: 'https://{hostname}/api/v4/user', subject: id }",
    ].join("\n"),
    {},
  );

  it("a connector whose URLs use {hostname} is per-server; others are not", () => {
    assert.equal(isPerServer(gitlab), true);
    assert.equal(isPerServer({ hostname: undefined }), false);
  });

  it("a hostname must match hostname.pattern as a whole, case-insensitively", () => {
    assert.equal(hostnameAllowed(gitlab, "git.example.com"), true);
    assert.equal(hostnameAllowed(gitlab, "GIT.Example.com"), true);
    assert.equal(hostnameAllowed(gitlab, "git.example.com.evil.test"), false);
    assert.equal(hostnameAllowed(gitlab, "example.com"), false);
  });
});
