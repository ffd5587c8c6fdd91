/**
 * The userinfo endpoint (OIDC Core §5.3) with openid-client's
 * `fetchUserInfo`, and its refusals with the RFC 6750 §3 challenge.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import { connectAccount, registerApp, startAsFixture, type AsFixture, type FixtureApp } from "../support/as-fixture.js";
import { issueAccessToken } from "../../src/oauth/tokens.js";
import { revokeAccountGrants } from "../../src/oauth/revocation.js";

describe("userinfo", () => {
  let fixture: AsFixture;
  let app: FixtureApp;
  let userinfoUrl: string;

  before(async () => {
    fixture = await startAsFixture();
    userinfoUrl = `${fixture.broker.url}/oauth/userinfo`;
    app = await registerApp(fixture, { scopes: ["openid", "email", "profile", "offline_access", "proxy"] });
  });

  after(async () => {
    await fixture?.close();
  });

  async function get(headers: Record<string, string> = {}, url = userinfoUrl) {
    const response = await fetch(url, { headers });
    return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
  }

  it("returns the connected account's identity for a token with openid, matching the ID token's sub", async () => {
    const tokens = await connectAccount(fixture, app);
    const claims = await client.fetchUserInfo(app.config, tokens.access_token, tokens.claims()!.sub);
    assert.equal(claims.sub, tokens.accountId);
    assert.equal(claims.email, fixture.github.currentUser.email);
    assert.equal(claims.name, fixture.github.currentUser.name);
    assert.equal(claims.connector, "gh");
  });

  it("answers POST as well, never cached, open to browser apps", async () => {
    const tokens = await connectAccount(fixture, app);
    const response = await fetch(userinfoUrl, { method: "POST", headers: { authorization: `Bearer ${tokens.access_token}`, origin: "https://spa.example" } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.equal(response.headers.get("access-control-allow-origin"), "*");
    assert.equal(((await response.json()) as { sub: string }).sub, tokens.accountId);
    const preflight = await fetch(userinfoUrl, { method: "OPTIONS", headers: { origin: "https://spa.example", "access-control-request-method": "GET", "access-control-request-headers": "authorization" } });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /Authorization/);
  });

  it("a request without a token gets 401 and a Bearer challenge without an error code", async () => {
    const answer = await get();
    assert.equal(answer.status, 401);
    const challenge = answer.headers.get("www-authenticate") ?? "";
    assert.match(challenge, /^Bearer realm="authbroker"/);
    assert.doesNotMatch(challenge, /[ ,]error="/, "RFC 6750 §3.1: no error code when no credentials were sent");
  });

  it("a token in the query string is not accepted", async () => {
    const tokens = await connectAccount(fixture, app);
    const answer = await get({}, `${userinfoUrl}?access_token=${encodeURIComponent(tokens.access_token)}`);
    assert.equal(answer.status, 401);
  });

  it("a token without openid gets 403 insufficient_scope", async () => {
    const tokens = await connectAccount(fixture, app, "proxy");
    const answer = await get({ authorization: `Bearer ${tokens.access_token}` });
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error, "insufficient_scope");
    assert.match(answer.headers.get("www-authenticate") ?? "", /error="insufficient_scope".*scope="openid"/);
    await assert.rejects(client.fetchUserInfo(app.config, tokens.access_token, client.skipSubjectCheck), (err: client.WWWAuthenticateChallengeError) => err.cause[0]?.parameters.error === "insufficient_scope");
  });

  it("a bad, expired or revoked token gets 401 invalid_token with the challenge", async () => {
    const expired = await issueAccessToken(fixture.broker.services, { client: { id: app.id, accessTokenTtl: 3600 }, subject: "acc_x", accountId: "acc_x", scope: "openid", ttl: -300 });
    const revoked = await connectAccount(fixture, app);
    await revokeAccountGrants(fixture.broker.services, revoked.accountId, "test");
    for (const token of ["not-a-token", expired.accessToken, revoked.access_token]) {
      const answer = await get({ authorization: `Bearer ${token}` });
      assert.equal(answer.status, 401, token.slice(0, 12));
      assert.equal(answer.body.error, "invalid_token");
      assert.match(answer.headers.get("www-authenticate") ?? "", /^Bearer realm="authbroker", error="invalid_token"/);
    }
  });

  it("the token of an account that is gone gets 401 invalid_token", async () => {
    const tokens = await connectAccount(fixture, app);
    await fixture.broker.services.db.account.update({ where: { id: tokens.accountId }, data: { status: "revoked" } });
    const answer = await get({ authorization: `Bearer ${tokens.access_token}` });
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error, "invalid_token");
  });
});
