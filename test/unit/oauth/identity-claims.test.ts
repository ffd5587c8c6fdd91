/**
 * The identity claims of an account (src/oauth/identity-claims.ts) read
 * from what the database holds: profiles stored before `email_verified` was
 * kept, and values of the wrong type, never become claims they do not say.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { identityClaims } from "../../../src/oauth/identity-claims.js";

const account = { id: "acc_1", connectorId: "forge", hostname: "" };
const ALL = "openid email profile";

describe("identity claims from a stored profile", () => {
  it("a profile stored before email_verified was kept has no email_verified claim", () => {
    assert.deepEqual(identityClaims({ ...account, profile: { email: "a@example.test", name: "A" } }, ALL), {
      sub: "acc_1",
      connector: "forge",
      email: "a@example.test",
      name: "A",
    });
  });

  it("email_verified is a claim only as a boolean, and only with the email it speaks of", () => {
    assert.equal(identityClaims({ ...account, profile: { email: "a@example.test", email_verified: "true" } }, ALL).email_verified, undefined);
    assert.deepEqual(identityClaims({ ...account, profile: { email_verified: true, name: "A" } }, ALL), { sub: "acc_1", connector: "forge", name: "A" });
    assert.equal(identityClaims({ ...account, profile: { email: "a@example.test", email_verified: false } }, ALL).email_verified, false);
  });

  it("an empty, missing or malformed profile gives sub and connector only", () => {
    for (const profile of [{}, null, "a@example.test", [], { email: 7, name: "" }]) {
      assert.deepEqual(identityClaims({ ...account, profile }, ALL), { sub: "acc_1", connector: "forge" }, JSON.stringify(profile));
    }
  });

  it("upstream_host is the stored host[:port] of a per-server account, with or without the identity scopes", () => {
    assert.deepEqual(identityClaims({ ...account, hostname: "git.example.test:8443", profile: { email: "a@example.test" } }, "openid"), {
      sub: "acc_1",
      connector: "forge",
      upstream_host: "git.example.test:8443",
    });
  });
});
