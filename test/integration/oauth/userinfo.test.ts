/**
 * The userinfo endpoint (OIDC Core §5.3) with openid-client's
 * `fetchUserInfo`, and its refusals with the RFC 6750 §3 challenge; and the
 * identity claims it shares with the ID token, which follow the scope
 * (OIDC Core §5.4) and the upstream's own word on `email_verified`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import { connectAccount, registerApp, startAsFixture, type AsFixture, type FixtureApp } from "../../support/as-fixture.js";
import { issueAccessToken } from "../../../src/oauth/tokens.js";
import { revokeAccountGrants } from "../../../src/revocation/revocation.js";

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

  /** The ID token's claims and userinfo's answer for a token response. */
  async function identityOf(tokens: Awaited<ReturnType<typeof connectAccount>>) {
    const idToken = tokens.claims()!;
    const userinfo = await client.fetchUserInfo(app.config, tokens.access_token, idToken.sub);
    return { idToken, userinfo };
  }

  describe("identity claims follow the scope (OIDC Core §5.4)", () => {
    it("openid without email or profile: sub and connector, no email and no name", async () => {
      const tokens = await connectAccount(fixture, app, "openid proxy");
      for (const [where, claims] of Object.entries(await identityOf(tokens))) {
        assert.equal(claims.sub, tokens.accountId, where);
        assert.equal(claims.connector, "gh", where);
        for (const absent of ["email", "email_verified", "name", "upstream_host"]) assert.equal(claims[absent], undefined, `${where}: ${absent}`);
      }
    });

    it("email alone: the email and no name; profile alone: the name and no email; both: both", async () => {
      const withEmail = await connectAccount(fixture, app, "openid email proxy");
      for (const [where, claims] of Object.entries(await identityOf(withEmail))) {
        assert.equal(claims.email, fixture.github.currentUser.email, where);
        assert.equal(claims.name, undefined, where);
      }
      const withProfile = await connectAccount(fixture, app, "openid profile proxy");
      for (const [where, claims] of Object.entries(await identityOf(withProfile))) {
        assert.equal(claims.name, fixture.github.currentUser.name, where);
        assert.equal(claims.email, undefined, where);
        assert.equal(claims.email_verified, undefined, where);
      }
      const withBoth = await connectAccount(fixture, app, "openid email profile proxy");
      for (const [where, claims] of Object.entries(await identityOf(withBoth))) {
        assert.equal(claims.email, fixture.github.currentUser.email, where);
        assert.equal(claims.name, fixture.github.currentUser.name, where);
      }
    });
  });

  describe("email_verified is the upstream's word, never a default", () => {
    for (const connector of ["acme-oidc", "gh"] as const) {
      const source = connector === "gh" ? "identity.emailVerified of an oauth2 connector" : "the OIDC upstream's email_verified claim";
      it(`${source}: true, false, or no claim when the upstream says nothing`, async () => {
        for (const said of [true, false, null]) {
          const tokens = await connectAccount(fixture, app, "openid email proxy", { connector, emailVerified: said });
          for (const [where, claims] of Object.entries(await identityOf(tokens))) {
            assert.ok(claims.email, `${where}: the email is there (upstream said ${said})`);
            assert.equal(claims.email_verified, said ?? undefined, `${where}: upstream said ${said}`);
          }
          const stored = await fixture.broker.services.db.account.findUniqueOrThrow({ where: { id: tokens.accountId } });
          assert.equal((stored.profile as Record<string, unknown>).email_verified, said ?? undefined, "stored as the upstream said it");
        }
      });
    }

    it("without scope email there is no email_verified either", async () => {
      const tokens = await connectAccount(fixture, app, "openid profile proxy", { connector: "acme-oidc", emailVerified: true });
      for (const [where, claims] of Object.entries(await identityOf(tokens))) {
        assert.equal(claims.email, undefined, where);
        assert.equal(claims.email_verified, undefined, where);
        assert.equal(claims.name, fixture.oidc.currentUser.name, where);
      }
    });
  });

  it("answers POST as well, never cached, open to browser apps", async () => {
    const tokens = await connectAccount(fixture, app);
    const response = await fetch(userinfoUrl, { method: "POST", headers: { authorization: `Bearer ${tokens.access_token}`, origin: "https://spa.example" } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.equal(response.headers.get("access-control-allow-origin"), "*");
    assert.equal(((await response.json()) as { sub: string }).sub, tokens.accountId);
    const preflight = await fetch(userinfoUrl, {
      method: "OPTIONS",
      headers: { origin: "https://spa.example", "access-control-request-method": "GET", "access-control-request-headers": "authorization" },
    });
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
    await assert.rejects(
      client.fetchUserInfo(app.config, tokens.access_token, client.skipSubjectCheck),
      (err: client.WWWAuthenticateChallengeError) => err.cause[0]?.parameters.error === "insufficient_scope",
    );
  });

  it("a bad, expired or revoked token gets 401 invalid_token with the challenge", async () => {
    const expired = await issueAccessToken(fixture.broker.services, {
      client: { id: app.id, accessTokenTtl: 3600 },
      subject: "acc_x",
      accountId: "acc_x",
      scope: "openid",
      ttl: -300,
    });
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
