/**
 * Token introspection (RFC 7662) and revocation (RFC 7009), for access and
 * refresh tokens, with openid-client's `tokenIntrospection` and
 * `tokenRevocation` as the apps. An app sees and revokes only its own
 * tokens: another app's token introspects as `{"active": false}` and its
 * revocation answers 200 without effect.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import { decodeJwt, exportJWK, generateKeyPair } from "jose";
import { connectAccount, registerApp, startAsFixture, type AsFixture, type FixtureApp } from "../../support/as-fixture.js";
import { issueAccessToken } from "../../../src/oauth/tokens.js";
import { revokedGrantKey } from "../../../src/revocation/revocation.js";

describe("introspection and revocation", () => {
  let fixture: AsFixture;
  let appA: FixtureApp;
  let appB: FixtureApp;
  let spa: FixtureApp;
  let keyApp: FixtureApp;
  let introspectUrl: string;
  let revokeUrl: string;

  before(async () => {
    fixture = await startAsFixture();
    introspectUrl = `${fixture.broker.url}/oauth/introspect`;
    revokeUrl = `${fixture.broker.url}/oauth/revoke`;
    const scopes = ["openid", "email", "profile", "offline_access", "proxy"];
    appA = await registerApp(fixture, { name: "App A", scopes });
    appB = await registerApp(fixture, { name: "App B", scopes });
    spa = await registerApp(fixture, { name: "SPA", isPublic: true, scopes });
    const pair = await generateKeyPair("ES256", { extractable: true });
    keyApp = await registerApp(
      fixture,
      {
        name: "Key app",
        tokenEndpointAuthMethod: "private_key_jwt",
        jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256" }] },
        scopes,
        grantTypes: ["client_credentials"],
      },
      { auth: () => client.PrivateKeyJwt({ key: pair.privateKey, kid: "k1" }) },
    );
  });

  after(async () => {
    await fixture?.close();
  });

  async function raw(url: string, body: Record<string, string>, headers: Record<string, string> = {}) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  }

  function basic(app: FixtureApp): string {
    return `Basic ${Buffer.from(`${app.id}:${app.secret}`).toString("base64")}`;
  }

  describe("introspection (RFC 7662)", () => {
    it("an app's own access token is active, with its claims", async () => {
      const tokens = await connectAccount(fixture, appA);
      const answer = await client.tokenIntrospection(appA.config, tokens.access_token);
      assert.equal(answer.active, true);
      assert.equal(answer.client_id, appA.id);
      assert.equal(answer.sub, tokens.accountId);
      assert.equal(answer.acct, tokens.accountId);
      assert.equal(answer.connector, "gh");
      assert.equal(answer.token_type, "Bearer");
      assert.equal(answer.iss, fixture.broker.url);
      assert.deepEqual(answer.scope?.split(" ").sort(), ["email", "offline_access", "openid", "profile", "proxy"]);
      assert.ok(answer.exp! > Date.now() / 1000);
    });

    it("an app's own refresh token is active, with or without the hint", async () => {
      const tokens = await connectAccount(fixture, appA);
      for (const hint of [{ token_type_hint: "refresh_token" }, {}, { token_type_hint: "access_token" }] as Record<string, string>[]) {
        const answer = await client.tokenIntrospection(appA.config, tokens.refresh_token!, hint);
        assert.equal(answer.active, true, JSON.stringify(hint));
        assert.equal(answer.client_id, appA.id);
        assert.equal(answer.sub, tokens.accountId);
        assert.equal(answer.token_type, undefined, "a refresh token has no access-token type");
      }
    });

    it("another app's access or refresh token introspects as {active:false} and nothing more", async () => {
      const tokens = await connectAccount(fixture, appA);
      assert.deepEqual(await client.tokenIntrospection(appB.config, tokens.access_token), { active: false });
      assert.deepEqual(await client.tokenIntrospection(appB.config, tokens.refresh_token!), { active: false });
    });

    it("unknown, malformed and expired tokens are inactive", async () => {
      const expired = await issueAccessToken(fixture.broker.services, {
        client: { id: appA.id, accessTokenTtl: 3600 },
        subject: appA.id,
        scope: "proxy",
        ttl: -300,
      });
      for (const token of ["nope", "a.b.c", expired.accessToken, "x".repeat(600)]) {
        assert.deepEqual(await client.tokenIntrospection(appA.config, token), { active: false });
      }
    });

    it("a revoked access token, and every token of a revoked grant, is inactive", async () => {
      const first = await connectAccount(fixture, appA);
      await client.tokenRevocation(appA.config, first.access_token);
      assert.equal((await client.tokenIntrospection(appA.config, first.access_token)).active, false, "revoked by jti");

      const second = await connectAccount(fixture, appA);
      const rotated = await client.refreshTokenGrant(appA.config, second.refresh_token!);
      assert.equal((await client.tokenIntrospection(appA.config, second.refresh_token!)).active, false, "a used refresh token");
      assert.equal((await client.tokenIntrospection(appA.config, rotated.refresh_token!)).active, true);
      // Reuse of the used refresh token revokes the family.
      await assert.rejects(client.refreshTokenGrant(appA.config, second.refresh_token!), (err: client.ResponseBodyError) => err.error === "invalid_grant");
      assert.equal((await client.tokenIntrospection(appA.config, rotated.access_token)).active, false, "an access token of the revoked family");
      assert.equal((await client.tokenIntrospection(appA.config, rotated.refresh_token!)).active, false, "the family's live refresh token");
    });

    it("a grant revoked only in the Redis store (its message never reached this process) makes its tokens inactive", async () => {
      // As when another broker process revoked it before this one subscribed, or the message was lost.
      const tokens = await connectAccount(fixture, appA);
      await fixture.broker.services.redis.set(revokedGrantKey(String(decodeJwt(tokens.access_token).gid)), "1", "EX", 600);
      assert.deepEqual(await client.tokenIntrospection(appA.config, tokens.access_token), { active: false });
    });

    it("a client-credentials token is introspected by its app, sub being the app", async () => {
      const tokens = await client.clientCredentialsGrant(keyApp.config, { scope: "proxy" });
      const answer = await client.tokenIntrospection(keyApp.config, tokens.access_token);
      assert.equal(answer.active, true);
      assert.equal(answer.sub, keyApp.id);
      assert.equal(answer.acct, undefined);
    });

    it("only authenticated confidential clients may introspect", async () => {
      const tokens = await connectAccount(fixture, appA);
      const anonymous = await raw(introspectUrl, { token: tokens.access_token });
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.body?.error, "invalid_client");
      const wrongSecret = await raw(
        introspectUrl,
        { token: tokens.access_token },
        { authorization: `Basic ${Buffer.from(`${appA.id}:wrong`).toString("base64")}` },
      );
      assert.equal(wrongSecret.status, 401);
      const publicClient = await raw(introspectUrl, { token: tokens.access_token, client_id: spa.id });
      assert.equal(publicClient.status, 401);
      assert.equal(publicClient.body?.error, "invalid_client");
      assert.equal(anonymous.body?.active, undefined, "no token information on a refusal");
    });

    it("responses are not cached and not offered to other origins; a missing token is invalid_request", async () => {
      const tokens = await connectAccount(fixture, appA);
      const answer = await raw(introspectUrl, { token: tokens.access_token }, { authorization: basic(appA), origin: "https://spa.example" });
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get("cache-control"), "no-store");
      assert.equal(answer.headers.get("access-control-allow-origin"), null);
      const missing = await raw(introspectUrl, {}, { authorization: basic(appA) });
      assert.equal(missing.status, 400);
      assert.equal(missing.body?.error, "invalid_request");
      assert.equal((await fetch(introspectUrl)).status, 405);
    });
  });

  describe("revocation (RFC 7009)", () => {
    it("revoking an access token stops it at once; the grant's refresh token still works", async () => {
      const tokens = await connectAccount(fixture, appA);
      await client.tokenRevocation(appA.config, tokens.access_token, { token_type_hint: "access_token" });
      assert.equal((await client.tokenIntrospection(appA.config, tokens.access_token)).active, false);
      const userinfo = await fetch(`${fixture.broker.url}/oauth/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(userinfo.status, 401, "a revoked token is refused where it is used");
      const refreshed = await client.refreshTokenGrant(appA.config, tokens.refresh_token!);
      assert.equal((await client.tokenIntrospection(appA.config, refreshed.access_token)).active, true);
    });

    it("revoking a refresh token revokes its grant: the refresh token and every access token issued under it", async () => {
      const tokens = await connectAccount(fixture, appA);
      const refreshed = await client.refreshTokenGrant(appA.config, tokens.refresh_token!);
      await client.tokenRevocation(appA.config, refreshed.refresh_token!);
      await assert.rejects(client.refreshTokenGrant(appA.config, refreshed.refresh_token!), (err: client.ResponseBodyError) => err.error === "invalid_grant");
      assert.equal((await client.tokenIntrospection(appA.config, refreshed.access_token)).active, false);
      assert.equal((await client.tokenIntrospection(appA.config, tokens.access_token)).active, false, "the first access token of the grant too");
      const family = await fixture.broker.services.db.refreshFamily.findFirstOrThrow({
        where: { accountId: tokens.accountId, appId: appA.id },
        orderBy: { createdAt: "desc" },
      });
      assert.match(family.revokedReason ?? "", /RFC 7009/);
    });

    it("revoking another app's token answers 200 and changes nothing", async () => {
      const tokens = await connectAccount(fixture, appA);
      await client.tokenRevocation(appB.config, tokens.access_token);
      await client.tokenRevocation(appB.config, tokens.refresh_token!);
      assert.equal((await client.tokenIntrospection(appA.config, tokens.access_token)).active, true);
      assert.equal((await client.tokenIntrospection(appA.config, tokens.refresh_token!)).active, true);
      const refreshed = await client.refreshTokenGrant(appA.config, tokens.refresh_token!);
      assert.ok(refreshed.access_token);
    });

    it("an unknown, malformed or already revoked token answers 200", async () => {
      const tokens = await connectAccount(fixture, appA);
      await client.tokenRevocation(appA.config, tokens.access_token);
      for (const token of ["nope", "a.b.c", tokens.access_token]) {
        const answer = await raw(revokeUrl, { token }, { authorization: basic(appA) });
        assert.equal(answer.status, 200);
        assert.equal(answer.body, undefined, "an empty body");
      }
    });

    it("a browser app (public client) revokes its own refresh token, cross-origin", async () => {
      const spaConfig = spa.config;
      const tokens = await connectAccount(fixture, spa);
      const preflight = await fetch(revokeUrl, { method: "OPTIONS", headers: { origin: "https://spa.example", "access-control-request-method": "POST" } });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
      const answer = await raw(revokeUrl, { token: tokens.refresh_token!, client_id: spa.id }, { origin: "https://spa.example" });
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get("access-control-allow-origin"), "*");
      await assert.rejects(client.refreshTokenGrant(spaConfig, tokens.refresh_token!), (err: client.ResponseBodyError) => err.error === "invalid_grant");
    });

    it("a client must authenticate; a missing token is invalid_request", async () => {
      const tokens = await connectAccount(fixture, appA);
      const anonymous = await raw(revokeUrl, { token: tokens.refresh_token! });
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.body?.error, "invalid_client");
      assert.equal((await client.tokenIntrospection(appA.config, tokens.refresh_token!)).active, true, "nothing was revoked");
      const missing = await raw(revokeUrl, {}, { authorization: basic(appA) });
      assert.equal(missing.status, 400);
      assert.equal(missing.body?.error, "invalid_request");
    });
  });
});
