/**
 * The refresh_token grant (RFC 6749 §6, RFC 9700 §4.14.2): rotation on every
 * use, reuse detection that revokes the whole family with its access tokens,
 * scope narrowing only. Grants start from a real code exchange; openid-client
 * v6 is the app.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import * as oidc from "openid-client";
import pg from "pg";
import { generateId, generateSecret, hashSecret } from "../../../src/crypto/secrets.js";
import { InvalidToken } from "../../../src/errors.js";
import { brokerApp } from "../../../src/main.js";
import { listen, type RunningServer } from "../../../src/http/server.js";
import { verifyAccessToken } from "../../../src/oauth/tokens.js";
import { createTestServices, type TestServices } from "../../support/services.js";
import { freePort } from "../../support/ports.js";
import { setSessionTimeZone } from "../../support/db.js";
import { until } from "../../support/wait.js";

const REDIRECT = "https://app.example.test/callback";
const SCOPE = "openid email proxy offline_access";

interface App {
  id: string;
  config: oidc.Configuration;
}

describe("refresh_token grant", () => {
  let services: TestServices;
  let server: RunningServer;
  let issuer: string;
  const insecure = { execute: [oidc.allowInsecureRequests] };
  let app: App;
  let otherApp: App;

  before(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    services = await createTestServices({ BROKER_ISSUER: issuer });
    // Sessions in a time zone other than UTC: a timestamp written or compared
    // in session-local time instead of UTC (as Prisma stores them) would show.
    await setSessionTimeZone(services.database.url, "America/New_York");
    const [session] = await services.db.$queryRawUnsafe<{ tz: string }[]>("SELECT current_setting('TimeZone') AS tz");
    assert.equal(session?.tz, "America/New_York");
    await services.signingKeys.ensureCurrent();
    server = await listen(brokerApp(services), port, "127.0.0.1");
    const register = async (name: string): Promise<App> => {
      const { client, secret } = await services.clients.create({
        name,
        redirectUris: [REDIRECT],
        scopes: ["openid", "email", "offline_access", "proxy"],
        refreshTokenTtl: 600,
      });
      return { id: client.id, config: await oidc.discovery(new URL(issuer), client.id, undefined, oidc.ClientSecretBasic(secret!), insecure) };
    };
    app = await register("App");
    otherApp = await register("Other");
  });

  after(async () => {
    await server?.close(0);
    await services?.teardown();
  });

  /** A grant as an app gets it: a connected account, a code, an exchange. */
  async function grant(target: App = app, scope = SCOPE) {
    const accountId = generateId("acc", 12);
    await services.db.account.create({
      data: { id: accountId, appId: target.id, connectorId: "acme", upstreamSubject: accountId, profile: { email: "r@example.test", name: "R" } },
    });
    const verifier = oidc.randomPKCECodeVerifier();
    const code = generateSecret();
    await services.db.authorizationCode.create({
      data: {
        codeHash: hashSecret(code),
        appId: target.id,
        accountId,
        redirectUri: REDIRECT,
        scope,
        codeChallenge: await oidc.calculatePKCECodeChallenge(verifier),
        codeChallengeMethod: "S256",
        expiresAt: new Date(Date.now() + 60_000),
      },
    });
    const url = new URL(REDIRECT);
    url.searchParams.set("code", code);
    url.searchParams.set("iss", issuer);
    const tokens = await oidc.authorizationCodeGrant(target.config, url, { pkceCodeVerifier: verifier });
    return { tokens, accountId, refreshToken: tokens.refresh_token!, familyId: String(decodeJwt(tokens.access_token).gid) };
  }

  const isInvalidGrant = (err: oidc.ResponseBodyError) => err.error === "invalid_grant" && err.status === 400;
  /** invalid_grant with exactly this description: each refusal says which check failed. */
  const invalidGrant = (description: string) => (err: oidc.ResponseBodyError) => {
    assert.equal(err.status, 400);
    assert.deepEqual({ error: err.error, error_description: err.error_description }, { error: "invalid_grant", error_description: description });
    return true;
  };

  describe("rotation", () => {
    it("a refresh token is exchanged for new tokens and a new refresh token in the same family", async () => {
      const { refreshToken, accountId, familyId } = await grant();
      const next = await oidc.refreshTokenGrant(app.config, refreshToken);
      assert.ok(next.refresh_token);
      assert.notEqual(next.refresh_token, refreshToken);
      const claims = decodeJwt(next.access_token);
      assert.equal(claims.sub, accountId);
      assert.equal(claims.acct, accountId);
      assert.equal(claims.connector, "acme");
      assert.equal(claims.gid, familyId);
      assert.equal(claims.scope, SCOPE);
      assert.equal(next.scope, SCOPE);
      const id = next.claims();
      assert.equal(id?.sub, accountId, "openid in the grant: a fresh ID token for the same subject");
      assert.equal(id?.email, "r@example.test");
      assert.equal(id?.name, undefined, "no profile scope, no name (OIDC Core §5.4)");
      const old = await services.db.refreshToken.findUniqueOrThrow({ where: { tokenHash: hashSecret(refreshToken) } });
      assert.ok(old.usedAt, "the old token is marked used");
      const fresh = await services.db.refreshToken.findUniqueOrThrow({ where: { tokenHash: hashSecret(next.refresh_token) } });
      assert.equal(fresh.familyId, familyId);
      assert.ok(Math.abs(fresh.expiresAt.getTime() - (Date.now() + 600_000)) < 10_000, "lifetime from the client's refreshTokenTtl");
      // The new token works in turn.
      const third = await oidc.refreshTokenGrant(app.config, next.refresh_token);
      assert.ok(third.refresh_token);
    });

    it("refresh responses are never cached", async () => {
      const { client, secret } = await services.clients.create({ name: "Raw", redirectUris: [REDIRECT], scopes: ["proxy", "offline_access"] });
      const { refreshToken } = await grant(
        { id: client.id, config: await oidc.discovery(new URL(issuer), client.id, undefined, oidc.ClientSecretBasic(secret!), insecure) },
        "proxy offline_access",
      );
      const response = await fetch(`${issuer}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${client.id}:${secret}`).toString("base64")}` },
        body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken }),
      });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("cache-control"), "no-store");
      assert.equal(response.headers.get("pragma"), "no-cache");
      assert.deepEqual(Object.keys((await response.json()) as object).sort(), ["access_token", "expires_in", "refresh_token", "scope", "token_type"]);
    });
  });

  describe("reuse (RFC 9700 §4.14.2)", () => {
    it("reuse of a used refresh token revokes the whole family and its access tokens", async () => {
      const { refreshToken, familyId, tokens } = await grant();
      const second = await oidc.refreshTokenGrant(app.config, refreshToken);
      let reuseRequestId: string | null = null;
      await assert.rejects(
        oidc.refreshTokenGrant(app.config, refreshToken),
        (err: oidc.ResponseBodyError) => {
          reuseRequestId = err.response.headers.get("x-request-id");
          return invalidGrant("the refresh token has already been used; the grant is revoked")(err);
        },
        "the used token is refused",
      );
      await assert.rejects(
        oidc.refreshTokenGrant(app.config, second.refresh_token!),
        invalidGrant("the grant of this refresh token has been revoked"),
        "and the family is revoked: the current token too",
      );
      await assert.rejects(async () => verifyAccessToken(services, second.access_token, "broker"), InvalidToken, "access tokens of the family are revoked");
      await assert.rejects(async () => verifyAccessToken(services, tokens.access_token, "broker"), InvalidToken);
      const family = await services.db.refreshFamily.findUniqueOrThrow({ where: { id: familyId } });
      assert.ok(family.revokedAt);
      assert.equal(family.revokedReason, "refresh token reused");
      const audit = await services.db.auditEvent.findMany({ where: { action: "grant.revoked", appId: app.id } });
      const revoked = audit.filter((e) => (e.detail as { familyId?: string }).familyId === familyId);
      assert.equal(revoked.length, 1);
      assert.ok(reuseRequestId, "the refusal carries its request id");
      assert.equal(revoked[0]!.requestId, reuseRequestId, "the revocation's audit row names the request that reused the token");
    });

    it("of two concurrent uses of one refresh token at most one wins, and the family is revoked", async () => {
      const { refreshToken, familyId } = await grant();
      const results = await Promise.allSettled(Array.from({ length: 4 }, () => oidc.refreshTokenGrant(app.config, refreshToken)));
      const won = results.filter((r) => r.status === "fulfilled");
      assert.ok(won.length <= 1, `${won.length} concurrent uses succeeded`);
      const family = await services.db.refreshFamily.findUniqueOrThrow({ where: { id: familyId } });
      assert.ok(family.revokedAt, "concurrent use is reuse");
    });

    it("of two uses that overlap, both past the lookup before either writes, exactly one wins and the family is revoked", async () => {
      // A real overlap, not timing luck: a second connection holds the token
      // row's lock while both requests start, so both read the token unused
      // and both reach the rotating UPDATE; only then is the lock released.
      // Only the UPDATE's own `usedAt IS NULL` re-check, and the handler's
      // refusal of a use that rotated nothing, can stop the second.
      const { refreshToken, familyId } = await grant();
      const holder = new pg.Client({ connectionString: services.database.url });
      await holder.connect();
      try {
        await holder.query("BEGIN");
        await holder.query(`SELECT 1 FROM "RefreshToken" WHERE "tokenHash" = $1 FOR UPDATE`, [hashSecret(refreshToken)]);
        const results = Promise.allSettled([oidc.refreshTokenGrant(app.config, refreshToken), oidc.refreshTokenGrant(app.config, refreshToken)]);
        await until(
          "both refreshes to wait on the token row's lock",
          async () => {
            // Asked outside the holder's transaction, whose view of pg_stat_activity is a snapshot.
            const [row] = await services.db.$queryRawUnsafe<{ waiting: number }[]>(
              `SELECT count(*)::int AS waiting FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%UPDATE "RefreshToken" SET "usedAt"%'`,
            );
            return row!.waiting === 2;
          },
          60_000,
        );
        await holder.query("COMMIT");
        const settled = await results;
        assert.equal(settled.filter((r) => r.status === "fulfilled").length, 1, "exactly one refresh succeeds");
        const lost = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
        invalidGrant("the refresh token has already been used; the grant is revoked")(lost!.reason as oidc.ResponseBodyError);
        const family = await services.db.refreshFamily.findUniqueOrThrow({ where: { id: familyId } });
        assert.equal(family.revokedReason, "refresh token reused", "the lost use is reuse: the family is revoked");
        assert.equal(await services.db.refreshToken.count({ where: { familyId } }), 2, "one successor written, not two");
      } finally {
        await holder.end();
      }
    });

    it("other families of the same account are untouched", async () => {
      const a = await grant();
      const b = await grant();
      await oidc.refreshTokenGrant(app.config, a.refreshToken);
      await assert.rejects(oidc.refreshTokenGrant(app.config, a.refreshToken), invalidGrant("the refresh token has already been used; the grant is revoked"));
      const stillFine = await oidc.refreshTokenGrant(app.config, b.refreshToken);
      assert.ok(stillFine.access_token);
      assert.equal((await verifyAccessToken(services, stillFine.access_token, "broker")).gid, b.familyId);
    });
  });

  describe("refused refresh tokens", () => {
    it("a token of a revoked family", async () => {
      const { refreshToken, familyId } = await grant();
      await services.db.refreshFamily.update({ where: { id: familyId }, data: { revokedAt: new Date(), revokedReason: "test" } });
      await assert.rejects(oidc.refreshTokenGrant(app.config, refreshToken), invalidGrant("the grant of this refresh token has been revoked"));
    });

    it("an expired token", async () => {
      const { refreshToken } = await grant();
      await services.db.refreshToken.update({ where: { tokenHash: hashSecret(refreshToken) }, data: { expiresAt: new Date(Date.now() - 1_000) } });
      await assert.rejects(oidc.refreshTokenGrant(app.config, refreshToken), invalidGrant("the refresh token has expired"));
    });

    it("another client's token, which is not revoked by the attempt", async () => {
      const { refreshToken } = await grant();
      await assert.rejects(oidc.refreshTokenGrant(otherApp.config, refreshToken), invalidGrant("the refresh token is not valid for this client"));
      assert.ok((await oidc.refreshTokenGrant(app.config, refreshToken)).access_token);
    });

    it("an unknown token", async () => {
      await assert.rejects(oidc.refreshTokenGrant(app.config, generateSecret()), invalidGrant("the refresh token is not valid for this client"));
    });

    it("a token whose account is no longer active", async () => {
      const { refreshToken, accountId } = await grant();
      await services.db.account.update({ where: { id: accountId }, data: { status: "revoked" } });
      await assert.rejects(
        oidc.refreshTokenGrant(app.config, refreshToken),
        invalidGrant("the account of this grant is revoked; the end user must connect it again"),
      );
      await services.db.account.update({ where: { id: accountId }, data: { status: "active" } });
      assert.ok((await oidc.refreshTokenGrant(app.config, refreshToken)).access_token, "refusing did not use the token up");
    });
  });

  describe("a grant recorded without an account", () => {
    it("refreshes to tokens for the app itself: its id the subject, no account, no ID token", async () => {
      const familyId = generateId("gr", 16);
      const refreshToken = generateSecret();
      await services.db.refreshFamily.create({ data: { id: familyId, appId: app.id, accountId: null, scope: "openid proxy offline_access" } });
      await services.db.refreshToken.create({ data: { tokenHash: hashSecret(refreshToken), familyId, expiresAt: new Date(Date.now() + 60_000) } });
      const tokens = await oidc.refreshTokenGrant(app.config, refreshToken);
      const claims = decodeJwt(tokens.access_token);
      assert.equal(claims.sub, app.id);
      assert.equal(claims.acct, undefined);
      assert.equal(claims.gid, familyId);
      assert.equal(tokens.scope, "openid proxy offline_access");
      assert.equal(tokens.token_type.toLowerCase(), "bearer");
      assert.equal(tokens.expires_in, 3600);
      assert.equal(tokens.id_token, undefined, "no end user, no ID token");
      assert.ok(tokens.refresh_token);
    });
  });

  describe("scope (RFC 6749 §6)", () => {
    it("a narrower scope is granted to the access token, and the family keeps its scope", async () => {
      const { refreshToken } = await grant();
      const narrowed = await oidc.refreshTokenGrant(app.config, refreshToken, { scope: "proxy" });
      assert.equal(narrowed.scope, "proxy");
      assert.equal(decodeJwt(narrowed.access_token).scope, "proxy");
      assert.equal(narrowed.id_token, undefined, "no openid in the narrowed scope, no ID token");
      const again = await oidc.refreshTokenGrant(app.config, narrowed.refresh_token!);
      assert.equal(again.scope, SCOPE, "without scope the full original scope is back");
    });

    it("a refreshed ID token carries the identity claims of the refreshed scope (OIDC Core §5.4) and the account's server", async () => {
      const { refreshToken, accountId } = await grant();
      // An account stored before email_verified was kept: its profile has none, and none is made up.
      await services.db.account.update({ where: { id: accountId }, data: { hostname: "git.example.test:8443" } });
      const narrowed = await oidc.refreshTokenGrant(app.config, refreshToken, { scope: "openid offline_access" });
      const id = narrowed.claims()!;
      assert.equal(id.sub, accountId);
      assert.equal(id.upstream_host, "git.example.test:8443", "a per-server account names its server, whatever the scope");
      assert.equal(id.email, undefined, "email left the scope");
      assert.equal(id.name, undefined);
      const full = (await oidc.refreshTokenGrant(app.config, narrowed.refresh_token!)).claims()!;
      assert.equal(full.email, "r@example.test", "email is back with the full scope");
      assert.equal(full.email_verified, undefined, "the stored profile says nothing of verification");
      assert.equal(full.upstream_host, "git.example.test:8443");
    });

    it("a malformed scope is invalid_scope, and the refused request does not use the token up", async () => {
      const { refreshToken } = await grant();
      await assert.rejects(
        oidc.refreshTokenGrant(app.config, refreshToken, { scope: 'proxy "quoted"' }),
        (err: oidc.ResponseBodyError) => err.error === "invalid_scope" && /does not allow/.test(String(err.error_description)),
      );
      assert.ok((await oidc.refreshTokenGrant(app.config, refreshToken)).access_token);
    });

    it("a wider scope is invalid_scope", async () => {
      const { refreshToken } = await grant(app, "proxy offline_access");
      await assert.rejects(
        oidc.refreshTokenGrant(app.config, refreshToken, { scope: "proxy accounts:read" }),
        (err: oidc.ResponseBodyError) => err.error === "invalid_scope" && err.error_description === "scope exceeds the original grant: accounts:read",
      );
      await assert.rejects(
        oidc.refreshTokenGrant(app.config, refreshToken, { scope: "proxy accounts:read email" }),
        (err: oidc.ResponseBodyError) => err.error === "invalid_scope" && err.error_description === "scope exceeds the original grant: accounts:read email",
        "every scope beyond the grant is named",
      );
      assert.ok((await oidc.refreshTokenGrant(app.config, refreshToken)).access_token, "the refused request did not use the token up");
    });
  });
});
