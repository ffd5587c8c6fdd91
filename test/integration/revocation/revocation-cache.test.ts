/**
 * The revocation cache (src/revocation/revocation-cache.ts): a token checked
 * again costs no Redis round trip while this process's subscription to the
 * revocation channel is live; a revocation made by another process is seen
 * at once; when the subscription drops, nothing it could have missed is
 * trusted.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { isRevoked, markClientRevoked, restoreRevocations, revokeAccessToken, revokedJtiKey } from "../../../src/revocation/revocation.js";
import { createTestServices, type TestServices } from "../../support/services.js";
import { until } from "../../support/wait.js";

/** Counts the EXISTS commands a client sends (the real client, wrapped). */
function countExists(services: TestServices): { count: number } {
  const counter = { count: 0 };
  const redis = services.redis as unknown as { exists(...keys: string[]): Promise<number> };
  const exists = redis.exists.bind(redis);
  redis.exists = (...keys: string[]) => (counter.count++, exists(...keys));
  return counter;
}

/** A token's claims that nothing has revoked yet; the cache learns they are clear once its subscription is live. */
async function clearClaims(services: TestServices, exists: { count: number }): Promise<{ jti: string; client_id: string; gid: string; exp: number }> {
  const claims = { jti: randomUUID(), client_id: `app_${randomUUID()}`, gid: randomUUID(), exp: Math.floor(Date.now() / 1000) + 600 };
  await until(
    "the cache answers a second check itself",
    async () => {
      assert.equal(await isRevoked(services.redis, claims), false);
      const before = exists.count;
      assert.equal(await isRevoked(services.redis, claims), false);
      return exists.count === before;
    },
    2_000,
  );
  return claims;
}

describe("revocation cache", () => {
  let a: TestServices;
  let b: TestServices;
  let bExists: { count: number };

  before(async () => {
    [a, b] = await Promise.all([createTestServices(), createTestServices()]);
    for (const { redis } of [a, b]) if (redis.status !== "ready") await new Promise((resolve) => redis.once("ready", resolve));
    bExists = countExists(b);
  });
  after(async () => Promise.all([a?.teardown(), b?.teardown()]));

  it("a token checked again asks Redis nothing; its revocation by another process is seen at once, without asking Redis", async () => {
    const claims = await clearClaims(b, bExists);
    const asked = bExists.count;
    for (let i = 0; i < 10; i++) assert.equal(await isRevoked(b.redis, claims), false);
    assert.equal(bExists.count, asked, "ten checks, no round trip");
    await revokeAccessToken(a.redis, claims);
    await until("the other process sees the revocation", () => isRevoked(b.redis, claims), 2_000);
    assert.equal(bExists.count, asked, "the published revocation answered, not a round trip");
  });

  it("a verified token's frozen claims, asked about again and again, are still seen revoked when their app is", async () => {
    // Frozen as verifyAccessToken freezes a token's claims: their keys are made once and reused, never the answer.
    const claims = Object.freeze(await clearClaims(b, bExists));
    for (let i = 0; i < 3; i++) assert.equal(await isRevoked(b.redis, claims), false);
    await markClientRevoked(a.redis, { clientId: claims.client_id, expiresAt: new Date(Date.now() + 600_000) });
    await until("the app's revocation is seen for the same claims object", () => isRevoked(b.redis, claims), 2_000);
  });

  it("claims that can change are checked under what they hold now, not under the keys they had", async () => {
    const claims = await clearClaims(b, bExists);
    const revoked = { jti: randomUUID(), client_id: claims.client_id };
    await revokeAccessToken(a.redis, { ...revoked, exp: claims.exp });
    await until("the revocation reaches the cache", () => isRevoked(b.redis, revoked), 2_000);
    claims.jti = revoked.jti;
    assert.equal(await isRevoked(b.redis, claims), true);
  });

  it("a grant revoked again from the database (restoreRevocations) is published too", async () => {
    const claims = await clearClaims(b, bExists);
    const family = await a.db.refreshFamily.create({
      data: {
        id: claims.gid,
        appId: (await a.clients.create({ name: "R", redirectUris: ["http://127.0.0.1:9/cb"], scopes: ["proxy"] })).client.id,
        scope: "proxy",
        revokedAt: new Date(),
        revokedReason: "test",
      },
    });
    assert.equal(family.id, claims.gid);
    await restoreRevocations(a);
    await until("the restored revocation reaches the cache", () => isRevoked(b.redis, claims), 2_000);
  });

  it("when the subscription drops, keys it took as clear are asked again: a revocation it never heard of is seen", async () => {
    const claims = await clearClaims(b, bExists);
    // Written behind the cache's back: no message.
    await a.redis.set(revokedJtiKey(claims.jti), "1", "EX", 600);
    assert.equal(await isRevoked(b.redis, claims), false, "still taken as clear: nothing was published (bounded by the cache's 30 s backstop)");
    await a.redis.client("KILL", "TYPE", "pubsub");
    await until("the revocation is seen once the subscription dropped", () => isRevoked(b.redis, claims), 2_000);
  });

  it("while Redis cannot be asked, no cached answer stands in for it: the check fails", async () => {
    const claims = await clearClaims(b, bExists);
    b.redis.disconnect();
    await assert.rejects(isRevoked(b.redis, { jti: randomUUID(), client_id: claims.client_id, gid: claims.gid }));
  });
});
