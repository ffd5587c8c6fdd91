/**
 * Inferring an access token's expiry when the token response has no
 * `expires_in`: the JWT's `exp` (decoded only), else the connector's default
 * lifetime, else a probe an hour (plus the margin) on.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inferTokenExpiry, TOKEN_PROBE_INTERVAL_SECONDS } from "../../../src/connectors/token-expiry.js";
import { parseConnectorText } from "../../../src/connectors/loader.js";

const NOW = Date.UTC(2026, 11, 5, 12, 0, 0);
const rules = { marginSeconds: 300 };

function jwt(claims: object): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(claims)}.c2lnbmF0dXJl`;
}

describe("inferring a token's expiry", () => {
  it("expires_in, when the upstream sent it, wins over everything", () => {
    const expiry = inferTokenExpiry(jwt({ exp: NOW / 1000 + 7200 }), 600, { ...rules, defaultTokenLifetimeSeconds: 9000 }, NOW);
    assert.deepEqual(expiry, { expiresAt: new Date(NOW + 600_000), expirySource: "expires_in" });
  });

  it("a JWT access token's exp is used when expires_in is absent", () => {
    const expiry = inferTokenExpiry(jwt({ exp: NOW / 1000 + 1800 }), undefined, { ...rules, defaultTokenLifetimeSeconds: 9000 }, NOW);
    assert.deepEqual(expiry, { expiresAt: new Date(NOW + 1_800_000), expirySource: "jwt_exp" });
  });

  it("an exp in the past, more than a year away or not a number is not believed", () => {
    for (const exp of [NOW / 1000 - 10, NOW / 1000 + 400 * 86_400, "soon", null]) {
      assert.equal(inferTokenExpiry(jwt({ exp }), undefined, rules, NOW).expirySource, "probe", String(exp));
    }
    assert.equal(inferTokenExpiry(jwt({ sub: "x" }), undefined, rules, NOW).expirySource, "probe", "no exp");
  });

  it("a token that only looks like a JWT (three parts, not JSON) is opaque", () => {
    assert.equal(inferTokenExpiry("abc.def.ghi", undefined, rules, NOW).expirySource, "probe");
  });

  it("the connector's default lifetime comes next", () => {
    const expiry = inferTokenExpiry("opaque-token", undefined, { ...rules, defaultTokenLifetimeSeconds: 5400 }, NOW);
    assert.deepEqual(expiry, { expiresAt: new Date(NOW + 5_400_000), expirySource: "connector_default" });
  });

  it("with nothing known, a probe: renewed an hour after issue, whatever the margin", () => {
    for (const marginSeconds of [0, 300, 86_400]) {
      const expiry = inferTokenExpiry("opaque-token", undefined, { marginSeconds }, NOW);
      assert.equal(expiry.expirySource, "probe");
      assert.equal(expiry.expiresAt.getTime() - marginSeconds * 1000, NOW + TOKEN_PROBE_INTERVAL_SECONDS * 1000);
    }
  });
});

describe("refresh.defaultTokenLifetimeSeconds in a connector file", () => {
  const file = (refresh: string) => `id: acme
name: Acme
auth:
  kind: client_credentials
  tokenUrl: https://acme.example/token
${refresh}`;

  it("is accepted when longer than the margin", () => {
    const connector = parseConnectorText("acme.yaml", file("refresh:\n  marginSeconds: 300\n  defaultTokenLifetimeSeconds: 3600\n"), {});
    assert.equal(connector.refresh.defaultTokenLifetimeSeconds, 3600);
  });

  it("is refused when not longer than the margin: the token would be renewed as soon as issued", () => {
    assert.throws(
      () => parseConnectorText("acme.yaml", file("refresh:\n  marginSeconds: 600\n  defaultTokenLifetimeSeconds: 600\n"), {}),
      /refresh\.defaultTokenLifetimeSeconds.*longer than refresh\.marginSeconds/,
    );
  });

  it("is refused below a minute", () => {
    assert.throws(() => parseConnectorText("acme.yaml", file("refresh:\n  defaultTokenLifetimeSeconds: 30\n"), {}), /must be >= 60/);
  });
});
