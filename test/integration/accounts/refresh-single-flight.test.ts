/**
 * The one refresh path (issue 6): concurrent callers in several processes
 * trigger one upstream refresh, a rotating refresh token is used exactly
 * once, and invalid_grant marks the account needs_reauth.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { reserveBrokerUrl, startTestBroker, type TestBroker } from "../../support/broker.js";
import { startOAuth2Upstream, type OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { connectTestAccount, registerTestApp, type TestApp, gitHubLikeConnector } from "../../support/flow.js";
import { refreshAccount, AccountNeedsReauth, upstreamDeadlineMs } from "../../../src/accounts/refresh.js";
import { UpstreamTimeout } from "../../../src/errors.js";
import { createServices, closeServices } from "../../../src/compose.js";
import { type Services } from "../../../src/services.js";
import { createLogger } from "../../../src/log.js";
import { readCredentials } from "../../../src/accounts/vault.js";

describe("single-flight refresh", () => {
  let broker: TestBroker;
  let upstream: OAuth2Upstream;
  let app: TestApp;
  /** A second "process": its own Services (own pools, own caches) on the same Postgres and Redis. */
  let other: Services;

  before(async () => {
    const reserved = await reserveBrokerUrl();
    upstream = await startOAuth2Upstream({ clients: [{ client_id: "b", client_secret: "b-secret-0123456789", redirect_uris: [reserved.callbackUrl("gh")] }] });
    broker = await startTestBroker({
      port: reserved.port,
      connectors: {
        "gh.json": gitHubLikeConnector(upstream, { client_id: "b", client_secret: "b-secret-0123456789" }),
      },
    });
    app = await registerTestApp(broker);
    other = await createServices(broker.services.config, createLogger("silent"), { ...process.env, CONNECTORS_DIR: broker.services.config.connectorsDir });
  });

  after(async () => {
    if (other) await closeServices(other);
    await broker?.stop();
    await upstream?.close();
  });

  it("twenty concurrent forced refreshes in two processes make one upstream refresh, and all get its result", async () => {
    const { accountId } = await connectTestAccount(app, "gh");
    const before = await readCredentials(broker.services.db, broker.services.keyring, accountId);
    const refreshesBefore = upstream.stats.tokenByGrant.refresh_token ?? 0;
    upstream.setTokenDelay(300);
    try {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => refreshAccount(i % 2 ? other : broker.services, accountId, { staleVersion: before!.version })),
      );
      assert.equal((upstream.stats.tokenByGrant.refresh_token ?? 0) - refreshesBefore, 1, "exactly one upstream refresh");
      assert.equal(results.filter((r) => r.outcome === "refreshed").length, 1);
      const accessTokens = new Set(results.map((r) => r.credentials.accessToken));
      assert.equal(accessTokens.size, 1, "every caller got the same new access token");
      assert.notEqual([...accessTokens][0], before!.accessToken);
    } finally {
      upstream.setTokenDelay(0);
    }
    const after = await readCredentials(broker.services.db, broker.services.keyring, accountId);
    assert.equal(after!.version, before!.version + 1);
    assert.notEqual(after!.refreshToken, before!.refreshToken, "the rotated refresh token was stored");
  });

  it("the rotated refresh token is used exactly once: a later refresh uses the new one and succeeds", async () => {
    const { accountId } = await connectTestAccount(app, "gh");
    const first = await refreshAccount(broker.services, accountId, { force: true });
    const second = await refreshAccount(other, accountId, { force: true });
    assert.equal(first.outcome, "refreshed");
    assert.equal(second.outcome, "refreshed");
    assert.notEqual(first.credentials.refreshToken, second.credentials.refreshToken);
  });

  it("returns exactly what it stored, and the account mirrors the new credentials in the same write", async () => {
    const { accountId } = await connectTestAccount(app, "gh");
    const before = await readCredentials(broker.services.db, broker.services.keyring, accountId);
    const result = await refreshAccount(broker.services, accountId, { force: true });
    assert.equal(result.outcome, "refreshed");
    const stored = await readCredentials(broker.services.db, broker.services.keyring, accountId);
    assert.deepEqual(result.credentials, stored, "no re-read needed: the returned credentials are the stored ones");
    assert.equal(stored!.version, before!.version + 1);
    const account = await broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } });
    assert.equal(account.credentialVersion, stored!.version);
    assert.equal(account.credentialExpiresAt?.getTime(), stored!.expiresAt?.getTime());
    assert.equal(account.lastError, null);
    assert.ok(account.lastRefreshedAt && Math.abs(account.lastRefreshedAt.getTime() - Date.now()) < 60_000, "lastRefreshedAt is now, stored as UTC");
  });

  it("a hanging upstream refresh fails before the refresh lock's TTL runs out, and releases the lock", async () => {
    // The per-request timeouts (10 s connect + 30 s headers + 60 s body) exceed the lock's 45 s:
    // without a total deadline a second caller could take the lapsed lock and present the same refresh token.
    assert.equal(upstreamDeadlineMs(45_000), 40_000);
    assert.equal(upstreamDeadlineMs(2_000), 1_500);
    const { accountId } = await connectTestAccount(app, "gh");
    const before = await readCredentials(broker.services.db, broker.services.keyring, accountId);
    const shortLock: Services = { ...broker.services, config: { ...broker.services.config, refreshLockTtlMs: 2_000 } };
    upstream.setTokenDelay(10_000);
    const started = Date.now();
    try {
      await assert.rejects(refreshAccount(shortLock, accountId, { force: true }), UpstreamTimeout);
    } finally {
      upstream.setTokenDelay(0);
    }
    const took = Date.now() - started;
    assert.ok(took >= 1_400 && took < 2_000, `failed after ${took} ms: at its 1,500 ms deadline, inside the 2,000 ms lock`);
    assert.equal(await broker.services.redis.exists(`lock:refresh:${accountId}`), 0, "the lock was released, not left to expire");
    const account = await broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } });
    assert.equal(account.status, "active", "a timeout is transient");
    assert.match(account.lastError ?? "", /in time/);
    const after = await readCredentials(broker.services.db, broker.services.keyring, accountId);
    assert.equal(after!.version, before!.version, "nothing stored");
  });

  it("credentials that are not about to expire are not refreshed unless forced", async () => {
    const { accountId } = await connectTestAccount(app, "gh");
    const result = await refreshAccount(broker.services, accountId);
    assert.equal(result.outcome, "fresh");
  });

  it("invalid_grant marks the account needs_reauth and records an audit event", async () => {
    const { accountId } = await connectTestAccount(app, "gh");
    upstream.failNextToken(400, { error: "invalid_grant", error_description: "revoked" });
    await assert.rejects(refreshAccount(broker.services, accountId, { force: true }), AccountNeedsReauth);
    const account = await broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } });
    assert.equal(account.status, "needs_reauth");
    const events = await broker.services.db.auditEvent.findMany({ where: { accountId, action: "account.needs_reauth" } });
    assert.equal(events.length, 1);
    await assert.rejects(refreshAccount(broker.services, accountId, { force: true }), AccountNeedsReauth, "no further upstream call");
  });

  it("a transient upstream failure leaves the account active and the old credentials in place", async () => {
    const { accountId } = await connectTestAccount(app, "gh");
    const before = await readCredentials(broker.services.db, broker.services.keyring, accountId);
    upstream.failNextToken(503, { error: "temporarily_unavailable" });
    await assert.rejects(refreshAccount(broker.services, accountId, { force: true }));
    const account = await broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } });
    assert.equal(account.status, "active");
    const after = await readCredentials(broker.services.db, broker.services.keyring, accountId);
    assert.equal(after!.refreshToken, before!.refreshToken);
    assert.equal(after!.version, before!.version);
  });
});
