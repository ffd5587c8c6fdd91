/**
 * The proxy's account cache (src/proxy/account-cache.ts): an entry is never
 * served past its lifetime, an entry in the last quarter of its lifetime is
 * read again in the background while it is still served (so a steadily called
 * account never queues its calls behind a read), and credentials only move
 * forward. Real PostgreSQL; the clock the refresh-ahead reads is moved with
 * node:test's Date mock (the lifetime itself runs on the monotonic clock).
 */
import { after, before, describe, it, mock } from "node:test";
import assert from "node:assert/strict";
import { connectAccount } from "../../../src/accounts/accounts.js";
import { AccountCache } from "../../../src/proxy/account-cache.js";
import { createTestServices, type TestServices } from "../../support/services.js";

describe("the proxy's account cache", () => {
  let services: TestServices;
  let appId: string;

  before(async () => {
    services = await createTestServices();
    appId = (await services.clients.create({ name: "Cached", redirectUris: [], grantTypes: ["client_credentials"], scopes: ["proxy"] })).client.id;
  });

  after(async () => {
    mock.timers.reset();
    await services?.teardown();
  });

  const newAccount = async (subject: string) =>
    (
      await connectAccount(services.db, services.keyring, {
        appId,
        connectorId: "acme",
        identity: { subject },
        scopes: [],
        tokens: { accessToken: `token-of-${subject}`, tokenType: "bearer" },
      })
    ).id;

  const setStatus = (id: string, status: "active" | "needs_reauth") => services.db.account.update({ where: { id }, data: { status } });

  it("serves a cached entry within its lifetime, and reads again after it", async () => {
    const cache = new AccountCache(services, 300);
    const id = await newAccount("lifetime");
    assert.equal((await cache.get(id))?.account.status, "active");
    await setStatus(id, "needs_reauth");
    assert.equal(cache.cached(id)?.account.status, "active", "within its lifetime the entry is served as it was read");
    await new Promise((resolve) => setTimeout(resolve, 350));
    assert.equal(cache.cached(id), undefined, "never served past its lifetime");
    assert.equal((await cache.get(id))?.account.status, "needs_reauth");
  });

  it("an entry in the last quarter of its lifetime is still served while it is read again in the background", async () => {
    const cache = new AccountCache(services, 60_000);
    const id = await newAccount("ahead");
    assert.equal((await cache.get(id))?.account.status, "active");
    await setStatus(id, "needs_reauth");
    assert.equal(cache.cached(id)?.account.status, "active", "early in its lifetime: no read");
    // 50 s later by the wall clock (past three quarters of 60 s), still within the lifetime.
    mock.timers.enable({ apis: ["Date"], now: Date.now() + 50_000 });
    try {
      assert.equal(cache.cached(id)?.account.status, "active", "the call that finds it is not held up");
    } finally {
      mock.timers.reset();
    }
    const deadline = Date.now() + 8000;
    while (cache.cached(id)?.account.status !== "needs_reauth") {
      assert.ok(cache.cached(id) !== undefined, "the entry is never missing while it is read again");
      if (Date.now() > deadline) assert.fail("the background read did not land");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });

  it("credentials move only forward; an account that is gone or invalidated is read again", async () => {
    const cache = new AccountCache(services, 60_000);
    const id = await newAccount("versions");
    const first = (await cache.get(id))!.credentials!;
    cache.updateCredentials(id, { ...first, accessToken: "older", version: first.version - 1 });
    assert.equal(cache.cached(id)?.credentials?.accessToken, `token-of-versions`, "an older version is ignored");
    cache.updateCredentials(id, { ...first, accessToken: "newer", version: first.version + 1 });
    assert.equal(cache.cached(id)?.credentials?.accessToken, "newer");
    cache.invalidate(id);
    assert.equal(cache.cached(id), undefined);
    assert.equal((await cache.get(id))?.credentials?.accessToken, "token-of-versions", "read again from the database");
    assert.equal(await cache.get("acc_no_such_account"), undefined);
  });

  it("with a lifetime of 0 nothing is kept", async () => {
    const cache = new AccountCache(services, 0);
    const id = await newAccount("uncached");
    assert.equal((await cache.get(id))?.account.status, "active");
    assert.equal(cache.cached(id), undefined);
  });
});
