/**
 * The shared client_credentials token cache (src/connectors/shared-tokens.ts)
 * against a real Redis: a token the upstream refused is dropped only while it
 * is still the cached one, so a process that saw the old token refused does
 * not drop the newer one another process has just stored.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { loadConfig } from "../../../src/config.js";
import { Keyring } from "../../../src/crypto/keyring.js";
import { createRedis, whenReady, type Redis } from "../../../src/redis.js";
import { RedisSharedTokens } from "../../../src/connectors/shared-tokens.js";
import type { UpstreamTokens } from "../../../src/connectors/kinds/types.js";
import { randomKeyEntry, TEST_REDIS_URL } from "../../support/services.js";

const inAnHour = () => new Date(Date.now() + 3_600_000);
const token = (accessToken: string): UpstreamTokens => ({ accessToken, tokenType: "Bearer", expiresAt: inAnHour() });

describe("the shared token cache drops a refused token by compare-and-delete", () => {
  let redis: Redis;
  let cache: RedisSharedTokens;
  before(async () => {
    redis = createRedis(TEST_REDIS_URL);
    await whenReady(redis, 10_000);
    const keyring = await Keyring.create(loadConfig({ BROKER_ENCRYPTION_KEYS: randomKeyEntry() }).encryptionKeys);
    cache = new RedisSharedTokens(redis, keyring);
  });
  after(() => redis?.quit());

  const freshKey = () => `test:${randomBytes(6).toString("hex")}`;
  /** What the cache serves for `key`, without fetching (a fetch would fail the test). */
  const served = (key: string) => cache.getOrFetch(key, 60, () => Promise.reject(new Error("nothing cached")));

  it("drops the cached token when it is the refused one; the next caller fetches a new one", async () => {
    const key = freshKey();
    await cache.getOrFetch(key, 60, async () => token("at-old"));
    assert.equal(await cache.drop(key, "at-old"), true);
    await assert.rejects(served(key), /nothing cached/);
    const next = await cache.getOrFetch(key, 60, async () => token("at-new"));
    assert.equal(next.accessToken, "at-new");
  });

  it("keeps a newer token another process stored after the refused one", async () => {
    const key = freshKey();
    // Process A and process B both saw at-old refused; B dropped it and stored at-new first.
    await cache.getOrFetch(key, 60, async () => token("at-old"));
    assert.equal(await cache.drop(key, "at-old"), true);
    await cache.getOrFetch(key, 60, async () => token("at-new"));
    // A's drop of at-old comes late: at-new stays and is served.
    assert.equal(await cache.drop(key, "at-old"), false);
    assert.equal((await served(key)).accessToken, "at-new");
  });

  it("drops nothing when nothing is cached", async () => {
    assert.equal(await cache.drop(freshKey(), "at-any"), false);
  });
});
