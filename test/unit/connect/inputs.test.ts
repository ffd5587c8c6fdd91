/**
 * What the connect pages accept before anything is sent upstream: typed
 * hostnames (normalised, bare host and port only), CSRF tokens bound to the
 * connect cookie, and the private-key files `credentials set` imports.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHmac, generateKeyPairSync } from "node:crypto";
import { csrfTokenFor, csrfTokenMatches } from "../../../src/connect/csrf.js";
import { isHostWithPort, normalizeHostname } from "../../../src/connectors/host.js";
import { importConnectorKey, KeyFileError } from "../../../src/connectors/private-keys.js";

describe("a typed hostname", () => {
  it("is what the end user meant: no scheme, no trailing slash or dot, lower case", () => {
    assert.equal(normalizeHostname("  https://GitLab.Example.com/ "), "gitlab.example.com");
    assert.equal(normalizeHostname("gitlab.example.com."), "gitlab.example.com");
    assert.equal(normalizeHostname("gitlab.example.com.:8443"), "gitlab.example.com:8443");
    assert.equal(normalizeHostname("HTTP://127.0.0.2:4000"), "127.0.0.2:4000");
  });

  it("is refused when it carries anything that could change the URL it fills", () => {
    for (const bad of ["evil.example/acme.example", "user@host.example", "host.example?x=1", "host.example#a", "a b.example", "host.example:abc", ""]) {
      assert.equal(isHostWithPort(normalizeHostname(bad)), false, bad);
    }
    assert.equal(isHostWithPort(normalizeHostname("https://gitlab.example.com/group/project")), false, "a path is not a host");
    assert.equal(isHostWithPort("[::1]:8080"), true);
  });
});

describe("the CSRF token of a connect form", () => {
  it("matches only this browser's cookie and this connect", () => {
    const token = csrfTokenFor("cookie-a", "connect-1");
    assert.equal(csrfTokenMatches("cookie-a", "connect-1", token), true);
    assert.equal(csrfTokenMatches("cookie-b", "connect-1", token), false, "another browser's cookie");
    assert.equal(csrfTokenMatches("cookie-a", "connect-2", token), false, "another connect");
    assert.equal(csrfTokenMatches("cookie-a", "connect-1", ""), false);
    assert.equal(csrfTokenMatches("cookie-a", "connect-1", undefined), false);
    assert.equal(csrfTokenMatches("cookie-a", "connect-1", [token]), false, "a repeated field is not a token");
  });

  it("is refused, not an error, when it has another length than a real token", () => {
    const token = csrfTokenFor("cookie-a", "connect-1");
    assert.equal(csrfTokenMatches("cookie-a", "connect-1", token.slice(0, -1)), false);
    assert.equal(csrfTokenMatches("cookie-a", "connect-1", `${token}A`), false);
  });

  it("is the HMAC-SHA256 of the connect's id under a purpose of its own, keyed by the cookie", () => {
    // The purpose keeps the cookie's key from producing this token in any other use of an HMAC under it.
    const expected = createHmac("sha256", "cookie-a").update("authbroker connect form v1\nconnect-1").digest("base64url");
    assert.equal(csrfTokenFor("cookie-a", "connect-1"), expected);
  });
});

describe("a private-key file", () => {
  it("may be PKCS#1 or PKCS#8 PEM, or a private JWK; the public half never holds private members", async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pkcs1 = await importConnectorKey(privateKey.export({ type: "pkcs1", format: "pem" }) as string);
    const pkcs8 = await importConnectorKey(privateKey.export({ type: "pkcs8", format: "pem" }) as string);
    assert.equal(pkcs1.kid, pkcs8.kid, "the RFC 7638 thumbprint names the key whatever its encoding");
    assert.equal(pkcs1.alg, "RS256");
    for (const member of ["d", "p", "q", "dp", "dq", "qi"]) assert.equal((pkcs1.publicJwk as Record<string, unknown>)[member], undefined);
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
    const fromJwk = await importConnectorKey(JSON.stringify({ ...ec, kid: "mine" }));
    assert.deepEqual([fromJwk.alg, fromJwk.kid], ["ES256", "mine"]);
  });

  it("is refused when it cannot sign RS256 or ES256 assertions", async () => {
    const small = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    await assert.rejects(importConnectorKey(small), (err: unknown) => err instanceof KeyFileError && /at least 2048 bits/.test(err.message));
    const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    await assert.rejects(importConnectorKey(p384), KeyFileError);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    await assert.rejects(importConnectorKey(rsa, { alg: "ES256" }), /the key is for RS256, but ES256 was asked for/);
    await assert.rejects(importConnectorKey("not a key"), KeyFileError);
  });
});
