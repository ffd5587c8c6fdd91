/**
 * Token issuance and verification (RFC 9068, OIDC Core) and the revocation
 * check, with real Postgres (signing keys, families) and Redis (revocations).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from "jose";
import { generateId } from "../../../src/crypto/secrets.js";
import { InvalidToken } from "../../../src/errors.js";
import { createRedis } from "../../../src/redis.js";
import { isFormContentType } from "../../../src/oauth/body.js";
import { parseBasicCredentials } from "../../../src/oauth/client-auth.js";
import { isRevoked, restoreRevocations, revokeAccessToken, revokeAccountGrants, revokedGrantKey, revokeFamily } from "../../../src/revocation/revocation.js";
import { accessTokenHash, issueAccessToken, issueIdToken, issueRefreshToken, verifyAccessToken } from "../../../src/oauth/tokens.js";
import { hashSecret } from "../../../src/crypto/secrets.js";
import { createTestServices, TEST_REDIS_URL, type TestServices } from "../../support/services.js";
import { closeRevocationCache } from "../../../src/revocation/revocation-cache.js";
import { until } from "../../support/wait.js";

describe("tokens", () => {
  let services: TestServices;
  const client = { id: "app_unit", accessTokenTtl: 600, idTokenTtl: 300 };

  before(async () => {
    services = await createTestServices({ BROKER_ISSUER: "https://broker.example.test" });
    await services.signingKeys.ensureCurrent();
    await services.db.app.create({
      data: {
        id: client.id,
        name: "Unit",
        tokenEndpointAuthMethod: "none",
        isPublic: true,
        redirectUris: [],
        grantTypes: [],
        responseTypes: [],
        scopes: [],
        accessTokenTtl: client.accessTokenTtl,
      },
    });
  });

  after(async () => {
    await services?.teardown();
  });

  describe("access tokens (RFC 9068)", () => {
    it("carry typ at+jwt, the current kid, and the claims of an account-bound token", async () => {
      const { accessToken, expiresIn, claims } = await issueAccessToken(services, {
        client,
        subject: "acc_1",
        scope: "proxy",
        accountId: "acc_1",
        connectorId: "acme",
        grantId: "gr_1",
      });
      const header = decodeProtectedHeader(accessToken);
      const key = await services.signingKeys.current();
      assert.deepEqual(header, { alg: key.alg, kid: key.kid, typ: "at+jwt" });
      assert.deepEqual(decodeJwt(accessToken), claims);
      assert.equal(claims.iss, "https://broker.example.test");
      assert.equal(claims.aud, "https://broker.example.test");
      assert.equal(claims.sub, "acc_1");
      assert.equal(claims.acct, "acc_1");
      assert.equal(claims.connector, "acme");
      assert.equal(claims.gid, "gr_1");
      assert.equal(claims.client_id, "app_unit");
      assert.equal(expiresIn, 600);
      assert.equal(claims.exp - claims.iat, 600);
      const other = await issueAccessToken(services, { client, subject: "app_unit", scope: "proxy", ttl: 60 });
      assert.notEqual(other.claims.jti, claims.jti, "every token has its own jti");
      assert.equal(other.claims.exp - other.claims.iat, 60);
      assert.equal(other.claims.acct, undefined);
    });

    it("verify: each verifier accepts only its audiences (RFC 8707: a token for one resource is refused by every other)", async () => {
      const issue = (audience?: string) => issueAccessToken(services, { client, subject: "acc_9", scope: "proxy", accountId: "acc_9", audience });
      const plain = await issue();
      const proxy = await issue("https://broker.example.test/v1/proxy");
      const mcp = await issue("https://mcp.example.test/mcp");
      assert.equal(proxy.claims.aud, "https://broker.example.test/v1/proxy");
      assert.ok(await verifyAccessToken(services, plain.accessToken, "broker"), "a token without resource is for the broker's APIs");
      assert.ok(await verifyAccessToken(services, plain.accessToken, "proxy"), "and for its proxy, as before resource indicators");
      assert.ok(await verifyAccessToken(services, proxy.accessToken, "proxy"));
      await assert.rejects(
        async () => verifyAccessToken(services, proxy.accessToken, "broker"),
        (err: unknown) => err instanceof InvalidToken && /another resource/.test(err.description),
      );
      await assert.rejects(async () => verifyAccessToken(services, mcp.accessToken, "proxy"), InvalidToken);
      await assert.rejects(async () => verifyAccessToken(services, mcp.accessToken, "broker"), InvalidToken);
      assert.equal((await verifyAccessToken(services, mcp.accessToken, "any")).aud, "https://mcp.example.test/mcp", "introspection reads every audience");
    });

    it("issue: an actor chain is carried as act (RFC 8693 §4.1)", async () => {
      const actor = { sub: "mcp-server", client_id: "mcp-server", act: { sub: "agent", client_id: "agent" } };
      const { accessToken } = await issueAccessToken(services, { client, subject: "acc_9", scope: "proxy", accountId: "acc_9", actor });
      assert.deepEqual((await verifyAccessToken(services, accessToken, "proxy")).act, actor);
    });

    it("verify: a valid token passes and returns its claims", async () => {
      const { accessToken, claims } = await issueAccessToken(services, { client, subject: "acc_2", scope: "proxy", accountId: "acc_2", connectorId: "acme" });
      assert.deepEqual(await verifyAccessToken(services, accessToken, "broker"), claims);
    });

    it("verify: an ID token is not an access token (typ)", async () => {
      const idToken = await issueIdToken(services, {
        client: { id: "https://broker.example.test", idTokenTtl: 60 },
        account: { id: "acc_3", connectorId: "acme", hostname: "", profile: {} },
        scope: "openid",
      });
      await assert.rejects(async () => verifyAccessToken(services, idToken, "broker"), InvalidToken);
    });

    it("verify: a token of another issuer, or signed by a foreign key under a broker kid, is refused", async () => {
      const key = await services.signingKeys.current();
      const foreign = await generateKeyPair("ES256");
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: "https://broker.example.test",
        aud: "https://broker.example.test",
        sub: "x",
        client_id: "app_unit",
        scope: "proxy",
        jti: "j",
        iat: now,
        exp: now + 60,
      };
      const forged = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: key.kid, typ: "at+jwt" }).sign(foreign.privateKey);
      await assert.rejects(async () => verifyAccessToken(services, forged, "broker"), InvalidToken);
      const otherIssuer = await new SignJWT({ ...claims, iss: "https://evil.example.test" })
        .setProtectedHeader({ alg: "ES256", kid: key.kid, typ: "at+jwt" })
        .sign(key.privateKey);
      await assert.rejects(async () => verifyAccessToken(services, otherIssuer, "broker"), InvalidToken);
      const unknownKid = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "sk_unknown", typ: "at+jwt" }).sign(key.privateKey);
      await assert.rejects(async () => verifyAccessToken(services, unknownKid, "broker"), InvalidToken);
      const ok = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: key.kid, typ: "at+jwt" }).sign(key.privateKey);
      assert.equal(
        (await verifyAccessToken(services, ok, "broker")).sub,
        "x",
        "the same claims signed right pass: the refusals above are for the reasons named",
      );
    });

    it("verify: an expired or tampered token is refused", async () => {
      const expired = await issueAccessToken(services, { client, subject: "acc_4", scope: "proxy", ttl: -120 });
      await assert.rejects(
        async () => verifyAccessToken(services, expired.accessToken, "broker"),
        (err: unknown) => err instanceof InvalidToken && /expired/.test(err.description),
      );
      const { accessToken } = await issueAccessToken(services, { client, subject: "acc_4", scope: "proxy" });
      const [h, , s] = accessToken.split(".");
      const payload = Buffer.from(JSON.stringify({ ...decodeJwt(accessToken), scope: "proxy admin" })).toString("base64url");
      await assert.rejects(async () => verifyAccessToken(services, `${h}.${payload}.${s}`, "broker"), InvalidToken);
      await assert.rejects(async () => verifyAccessToken(services, "not-a-jwt", "broker"), InvalidToken);
    });
  });

  describe("ID tokens (OIDC Core §2)", () => {
    it("carry the account's identity, nonce, auth_time and at_hash", async () => {
      const authTime = new Date("2026-01-02T03:04:05Z");
      const accessToken = "an-access-token";
      const idToken = await issueIdToken(services, {
        client,
        account: { id: "acc_5", connectorId: "acme", hostname: "", profile: { email: "e@example.test", name: "E", secret: "not a claim" } },
        scope: "openid email profile",
        nonce: "n-1",
        authTime,
        accessToken,
      });
      const claims = decodeJwt(idToken);
      assert.equal(claims.sub, "acc_5");
      assert.equal(claims.aud, "app_unit");
      assert.equal(claims.iss, "https://broker.example.test");
      assert.equal(claims.email, "e@example.test");
      assert.equal(claims.name, "E");
      assert.equal(claims.connector, "acme");
      assert.equal(claims.nonce, "n-1");
      assert.equal(claims.auth_time, Math.floor(authTime.getTime() / 1000));
      assert.equal(claims.exp! - claims.iat!, 300);
      assert.equal(claims.secret, undefined, "only known claims leave the profile");
      assert.equal(claims.at_hash, accessTokenHash(accessToken, "ES256"));
      const noNonce = decodeJwt(
        await issueIdToken(services, { client, account: { id: "acc_5", connectorId: "acme", hostname: "", profile: {} }, scope: "openid" }),
      );
      assert.equal(noNonce.nonce, undefined);
      assert.equal(noNonce.at_hash, undefined);
    });

    it("at_hash is the left half of the SHA-256 of the token for ES256 (OIDC Core §3.1.3.6)", () => {
      const full = createHash("sha256").update("abc").digest();
      assert.equal(accessTokenHash("abc", "ES256"), full.subarray(0, 16).toString("base64url"));
      assert.equal(accessTokenHash("abc", "EdDSA"), createHash("sha512").update("abc").digest().subarray(0, 32).toString("base64url"));
    });
  });

  describe("refresh tokens", () => {
    it("are 256-bit opaque secrets stored only as SHA-256", async () => {
      const familyId = generateId("gr", 16);
      await services.db.refreshFamily.create({ data: { id: familyId, appId: client.id, scope: "proxy offline_access" } });
      const { refreshToken, expiresAt } = await issueRefreshToken(services.db, { familyId, ttl: 120 });
      assert.ok(Buffer.from(refreshToken, "base64url").length >= 32);
      const rows = await services.db.refreshToken.findMany({ where: { familyId } });
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.tokenHash, hashSecret(refreshToken));
      assert.notEqual(rows[0]!.tokenHash, refreshToken);
      assert.ok(Math.abs(expiresAt.getTime() - Date.now() - 120_000) < 5_000);
    });
  });

  describe("revocation", () => {
    it("a revoked jti is refused until it would have expired", async () => {
      const { accessToken, claims } = await issueAccessToken(services, { client, subject: "acc_6", scope: "proxy" });
      await revokeAccessToken(services.redis, claims);
      await assert.rejects(
        async () => verifyAccessToken(services, accessToken, "broker"),
        (err: unknown) => err instanceof InvalidToken && /revoked/.test(err.description),
      );
      const ttl = await services.redis.ttl(`revoked:jti:${claims.jti}`);
      assert.ok(ttl > 600 && ttl <= 660, `ttl ${ttl}: the token's remaining life plus leeway`);
    });

    it("revoking a family revokes its access tokens and records it in the database", async () => {
      const familyId = generateId("gr", 16);
      await services.db.refreshFamily.create({ data: { id: familyId, appId: client.id, scope: "proxy" } });
      const { accessToken, claims } = await issueAccessToken(services, { client, subject: "acc_7", scope: "proxy", grantId: familyId });
      const sibling = await issueAccessToken(services, { client, subject: "acc_7", scope: "proxy", grantId: familyId });
      assert.equal(await isRevoked(services.redis, claims), false);
      await revokeFamily(services, familyId, "test");
      await assert.rejects(async () => verifyAccessToken(services, accessToken, "broker"), InvalidToken);
      await assert.rejects(async () => verifyAccessToken(services, sibling.accessToken, "broker"), InvalidToken);
      const family = await services.db.refreshFamily.findUniqueOrThrow({ where: { id: familyId } });
      assert.equal(family.revokedReason, "test");
      await revokeFamily(services, familyId, "second reason");
      assert.equal((await services.db.refreshFamily.findUniqueOrThrow({ where: { id: familyId } })).revokedReason, "test", "the first reason is kept");
    });

    it("revoking an account's grants revokes each live family of that account and no other", async () => {
      const mine = [generateId("gr", 16), generateId("gr", 16)];
      const other = generateId("gr", 16);
      for (const id of mine) await services.db.refreshFamily.create({ data: { id, appId: client.id, accountId: "acc_gone", scope: "proxy" } });
      await services.db.refreshFamily.create({ data: { id: other, appId: client.id, accountId: "acc_kept", scope: "proxy" } });
      const tokens = await Promise.all([...mine, other].map((grantId) => issueAccessToken(services, { client, subject: "s", scope: "proxy", grantId })));
      assert.equal(await revokeAccountGrants(services, "acc_gone", "account revoked"), 2);
      await assert.rejects(async () => verifyAccessToken(services, tokens[0]!.accessToken, "broker"), InvalidToken);
      await assert.rejects(async () => verifyAccessToken(services, tokens[1]!.accessToken, "broker"), InvalidToken);
      assert.ok(await verifyAccessToken(services, tokens[2]!.accessToken, "broker"));
      assert.equal((await services.db.refreshFamily.findUniqueOrThrow({ where: { id: other } })).revokedAt, null);
    });

    it("a Redis that lost its keys is brought back in line from the database", async () => {
      const familyId = generateId("gr", 16);
      await services.db.refreshFamily.create({ data: { id: familyId, appId: client.id, scope: "proxy" } });
      const { accessToken } = await issueAccessToken(services, { client, subject: "acc_8", scope: "proxy", grantId: familyId });
      await revokeFamily(services, familyId, "test");
      await services.redis.del(revokedGrantKey(familyId));
      // Another process, which never heard of the revocation (this one remembers the message it got).
      const other = createRedis(TEST_REDIS_URL);
      try {
        await new Promise((resolve) => other.once("ready", resolve));
        assert.ok(
          await verifyAccessToken({ ...services, redis: other }, accessToken, "broker"),
          "with the key lost, the token passes: the window restoreRevocations closes",
        );
        assert.ok((await restoreRevocations(services)) >= 1);
        // The key is back, and published: the other process's revocation cache hears it.
        await until(
          "the other process to refuse the token after the restore",
          () =>
            Promise.resolve(verifyAccessToken({ ...services, redis: other }, accessToken, "broker")).then(
              () => false,
              (err: unknown) => err instanceof InvalidToken,
            ),
          2_000,
        );
      } finally {
        closeRevocationCache(other);
        other.disconnect();
      }
    });

    it("fails closed: with Redis unreachable, verification throws instead of accepting", async () => {
      const deadRedis = createRedis("redis://127.0.0.1:1", { retryStrategy: () => null, lazyConnect: true });
      deadRedis.on("error", () => undefined);
      try {
        const { accessToken } = await issueAccessToken(services, { client, subject: "acc_9", scope: "proxy" });
        await assert.rejects(
          async () => verifyAccessToken({ ...services, redis: deadRedis }, accessToken, "broker"),
          (err: unknown) => !(err instanceof InvalidToken),
        );
      } finally {
        closeRevocationCache(deadRedis);
        deadRedis.disconnect();
      }
    });
  });

  describe("request parsing helpers", () => {
    it("Basic credentials are form-urlencoded halves (RFC 6749 §2.3.1)", () => {
      const header = `Basic ${Buffer.from("my%3Aclient:se+cr%25et").toString("base64")}`;
      assert.deepEqual(parseBasicCredentials(header), { clientId: "my:client", clientSecret: "se cr%et" });
      assert.deepEqual(parseBasicCredentials(`basic ${Buffer.from("a:b:c").toString("base64")}`), { clientId: "a", clientSecret: "b:c" });
      assert.throws(() => parseBasicCredentials(`Basic ${Buffer.from("bad%zz:x").toString("base64")}`), { code: "invalid_request" });
    });

    it("only application/x-www-form-urlencoded in UTF-8 is a form", () => {
      assert.equal(isFormContentType("application/x-www-form-urlencoded"), true);
      assert.equal(isFormContentType("Application/X-WWW-Form-Urlencoded; charset=UTF-8"), true);
      assert.equal(isFormContentType("application/x-www-form-urlencoded; charset=iso-8859-1"), false);
      assert.equal(isFormContentType("application/json"), false);
      assert.equal(isFormContentType("multipart/form-data; boundary=x"), false);
      assert.equal(isFormContentType(undefined), false);
    });
  });
});
