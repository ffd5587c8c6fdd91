/**
 * `auth.idTokenIssuer` (src/connectors/kinds/id-token-issuer.ts): an ID
 * token held out of openid-client's hands is checked as OIDC Core §3.1.3.7
 * says — its issuer under the file's template, audience, azp, expiry and
 * nonce — and every failure says what is wrong, never the token.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { UnsecuredJWT } from "jose";
import { checkHeldIdToken, holdIdToken } from "../../../src/connectors/kinds/id-token-issuer.js";
import { issuerMatches } from "../../../src/connectors/kinds/oidc.js";

const TEMPLATE = "https://login.example/{tid}/v2.0";
const TID = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const now = () => Math.floor(Date.now() / 1000);

function token(claims: Record<string, unknown>): string {
  return new UnsecuredJWT({
    iss: `https://login.example/${TID}/v2.0`,
    aud: "client-1",
    tid: TID,
    iat: now(),
    exp: now() + 3600,
    nonce: "n-1",
    ...claims,
  }).encode();
}

const check = (claims: Record<string, unknown>, expected: { nonce?: string; required?: boolean } = {}) =>
  checkHeldIdToken("Acme", TEMPLATE, { idToken: token(claims) }, { clientId: "client-1", nonce: "n-1", required: true, ...expected });

describe("an ID token checked against auth.idTokenIssuer", () => {
  it("is accepted with the issuer of its own tenant, and its claims returned", () => {
    assert.equal(check({})?.tid, TID);
  });
  it("is refused when its issuer names another tenant than its tid", () => {
    assert.throws(
      () => check({ tid: "0000-other" }),
      /was issued by "https:\/\/login\.example\/72f988bf.*", not "https:\/\/login\.example\/0000-other\/v2\.0"/,
    );
  });
  it("is refused without a tid, or with one that would change the URL", () => {
    assert.throws(() => check({ tid: undefined }), /no tenant id/);
    assert.throws(() => check({ tid: "a/../b" }), /no tenant id/);
  });
  it("is refused for another audience, or several without this client as azp", () => {
    assert.throws(() => check({ aud: "client-2" }), /not for this broker/);
    assert.throws(() => check({ aud: ["client-1", "client-2"] }), /another party \(azp\)/);
    assert.ok(check({ aud: ["client-1", "client-2"], azp: "client-1" }));
  });
  it("is refused when expired, or without iat", () => {
    assert.throws(() => check({ exp: now() - 120 }), /has expired/);
    assert.throws(() => check({ iat: undefined }), /no iat/);
  });
  it("is refused with another request's nonce", () => {
    assert.throws(() => check({ nonce: "n-2" }), /nonce/);
  });
  it("is required where the kind needs one, and not otherwise", () => {
    assert.throws(() => checkHeldIdToken("Acme", TEMPLATE, {}, { clientId: "client-1", required: true }), /sent no ID token/);
    assert.equal(checkHeldIdToken("Acme", TEMPLATE, {}, { clientId: "client-1", required: false }), undefined);
  });
  it("is not a JWT: refused without echoing it", () => {
    assert.throws(
      () => checkHeldIdToken("Acme", TEMPLATE, { idToken: "secret-looking-value" }, { clientId: "client-1", required: true }),
      (err: Error) => /not a JWT/.test(err.message) && !err.message.includes("secret-looking-value"),
    );
  });
  it("none: dropped unread", () => {
    assert.equal(checkHeldIdToken("Acme", "none", { idToken: token({ iss: "https://anyone" }) }, { clientId: "client-1", required: false }), undefined);
  });
  it("is taken out of a token response, which keeps its other fields", async () => {
    const held: { idToken?: string } = {};
    const response = new Response(JSON.stringify({ access_token: "at", id_token: "x.y.z", expires_in: 60 }), {
      headers: { "content-type": "application/json" },
    });
    const out = await holdIdToken(response, held);
    assert.deepEqual(await out.json(), { access_token: "at", expires_in: 60 });
    assert.equal(held.idToken, "x.y.z");
  });
});

describe("an oidc discovery document's issuer (OIDC Discovery §4.3, and Entra's {tenantid} template)", () => {
  const template = "https://login.microsoftonline.com/{tenantid}/v2.0";
  it("matches the issuer asked for, or the template with one segment in place of {tenantid}", () => {
    assert.ok(issuerMatches("https://accounts.google.com", "https://accounts.google.com"));
    assert.ok(issuerMatches("https://accounts.google.com", "https://accounts.google.com/"));
    assert.ok(issuerMatches("https://login.microsoftonline.com/common/v2.0", template));
    assert.ok(issuerMatches("https://login.microsoftonline.com/organizations/v2.0", template));
  });
  for (const [requested, discovered, why] of [
    ["https://accounts.google.com", "https://evil.example", "another issuer"],
    ["https://login.microsoftonline.com/common/v2.0", "https://login.microsoftonline.com/other/v2.0", "another tenant, without a template"],
    ["https://evil.example/common/v2.0", template, "another host under the template"],
    ["https://login.microsoftonline.com/a/b/v2.0", template, "two segments in place of {tenantid}"],
    ["https://login.microsoftonline.com//v2.0", template, "an empty segment"],
    ["https://login.microsoftonline.com/common/v2.0", "https://login.microsoftonline.com/{tenantid}/{tenantid}", "two templates"],
  ] as const) {
    it(`refuses ${why}`, () => assert.equal(issuerMatches(requested, discovered), false));
  }
});
