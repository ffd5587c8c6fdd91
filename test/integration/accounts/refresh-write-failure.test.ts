/**
 * A rotated refresh token survives a failed write: when PostgreSQL refuses
 * the write after the upstream answered a refresh (here a real trigger on
 * "Credential" that raises, as a failing-over or read-only database would),
 * the upstream's answer is kept sealed in Redis, the write is retried, and
 * the next refresh stores it instead of presenting the old refresh token —
 * which the upstream, rotating single-use refresh tokens, would refuse
 * (RFC 9700 §4.14.2), losing the account.
 */
import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startBrokerWithGitHubLike, connectTestAccount, registerTestApp, type TestApp } from "../../support/flow.js";
import type { TestBroker } from "../../support/broker.js";
import type { OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { refreshAccount } from "../../../src/accounts/refresh.js";
import { readCredentials } from "../../../src/accounts/vault.js";
import { keepPendingRefresh, PENDING_REFRESH_TTL_SECONDS, readPendingRefresh } from "../../../src/accounts/pending-refresh.js";
import { ServiceUnavailable } from "../../../src/errors.js";

describe("a refresh whose write fails", () => {
  let broker: TestBroker;
  let upstream: OAuth2Upstream;
  let app: TestApp;
  let stop: () => Promise<void>;

  /** The next `count` writes of credentials fail in PostgreSQL (a sequence: its increments survive the rollback). */
  async function failCredentialWrites(count: number): Promise<void> {
    await broker.services.db.$executeRawUnsafe(`DROP SEQUENCE IF EXISTS credential_write_attempts`);
    await broker.services.db.$executeRawUnsafe(`CREATE SEQUENCE credential_write_attempts`);
    await broker.services.db.$executeRawUnsafe(`
      CREATE OR REPLACE FUNCTION fail_credential_write() RETURNS trigger AS $$
      BEGIN
        IF nextval('credential_write_attempts') <= ${count} THEN
          RAISE EXCEPTION 'the database refuses writes (test)' USING ERRCODE = '25006';
        END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql`);
    await broker.services.db.$executeRawUnsafe(`DROP TRIGGER IF EXISTS fail_credential_write ON "Credential"`);
    await broker.services.db.$executeRawUnsafe(
      `CREATE TRIGGER fail_credential_write BEFORE UPDATE ON "Credential" FOR EACH ROW EXECUTE FUNCTION fail_credential_write()`,
    );
  }

  async function healDatabase(): Promise<void> {
    await broker.services.db.$executeRawUnsafe(`DROP TRIGGER IF EXISTS fail_credential_write ON "Credential"`);
  }

  const upstreamRefreshes = () => upstream.stats.tokenByGrant.refresh_token ?? 0;

  before(async () => {
    ({ broker, upstream, stop } = await startBrokerWithGitHubLike());
    app = await registerTestApp(broker);
  });
  after(() => stop?.());
  beforeEach(healDatabase);

  it("a write that fails once is retried in the same refresh, and nothing is left in Redis", async () => {
    const { accountId } = await connectTestAccount(app, "gh");
    const refreshes = upstreamRefreshes();
    await failCredentialWrites(1);
    const result = await refreshAccount(broker.services, accountId, { force: true });
    assert.equal(result.outcome, "refreshed");
    assert.equal(upstreamRefreshes() - refreshes, 1, "one upstream refresh");
    const stored = await readCredentials(broker.services.db, broker.services.keyring, accountId);
    assert.equal(stored!.refreshToken, upstream.issuedRefreshTokens().at(-1), "the rotated refresh token is stored");
    assert.equal(await readPendingRefresh(broker.services.redis, broker.services.keyring, accountId), undefined);
  });

  it("a write that keeps failing keeps the rotated refresh token sealed in Redis, and the next refresh stores it without asking the upstream", async () => {
    const { accountId } = await connectTestAccount(app, "gh");
    const old = await readCredentials(broker.services.db, broker.services.keyring, accountId);
    const refreshes = upstreamRefreshes();
    await failCredentialWrites(1_000);
    await assert.rejects(refreshAccount(broker.services, accountId, { force: true }), ServiceUnavailable);
    assert.equal(upstreamRefreshes() - refreshes, 1, "the upstream answered, and rotated the refresh token");
    const rotated = upstream.issuedRefreshTokens().at(-1)!;
    const unchanged = await readCredentials(broker.services.db, broker.services.keyring, accountId);
    assert.equal(unchanged!.refreshToken, old!.refreshToken, "PostgreSQL still holds the old (now dead) refresh token");

    // Kept in Redis, sealed (no token in clear), with a TTL.
    const key = `refresh:pending:${accountId}`;
    const raw = await broker.services.redis.get(key);
    assert.ok(raw, "kept in Redis");
    assert.ok(!raw.includes(rotated) && !raw.includes(upstream.issuedAccessTokens().at(-1)!), "sealed");
    const ttl = await broker.services.redis.ttl(key);
    assert.ok(ttl > PENDING_REFRESH_TTL_SECONDS - 60 && ttl <= PENDING_REFRESH_TTL_SECONDS, `ttl ${ttl}`);
    const logged = broker.services.logs.lines.find((l) => String(l.msg).startsWith("could not store the refreshed credentials"));
    assert.ok(logged, "the failure is logged");
    assert.ok(!broker.services.logs.text.includes(rotated), "no token in the log");

    // The database is back. The next refresh (the worker's retry, unforced) stores the kept answer.
    await healDatabase();
    const replayed = await refreshAccount(broker.services, accountId);
    assert.equal(replayed.outcome, "refreshed");
    assert.equal(upstreamRefreshes() - refreshes, 1, "the dead refresh token was never presented");
    const stored = await readCredentials(broker.services.db, broker.services.keyring, accountId);
    assert.equal(stored!.refreshToken, rotated);
    assert.equal(stored!.version, old!.version + 1);
    assert.equal(await broker.services.redis.exists(key), 0, "dropped once stored");

    // The account lives on: the stored refresh token works at the upstream.
    const next = await refreshAccount(broker.services, accountId, { force: true });
    assert.equal(next.outcome, "refreshed");
    const account = await broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } });
    assert.equal(account.status, "active");
    assert.equal(upstream.stats.refreshReplays, 0, "no refresh token was presented twice");
  });

  it("a kept answer for a version the account has moved past is dropped, not stored over newer credentials", async () => {
    const { accountId } = await connectTestAccount(app, "gh");
    const current = await readCredentials(broker.services.db, broker.services.keyring, accountId);
    await keepPendingRefresh(broker.services.redis, broker.services.keyring, accountId, {
      baseVersion: current!.version - 1,
      tokens: { accessToken: "stale-access", refreshToken: "stale-refresh", tokenType: "bearer" },
    });
    const result = await refreshAccount(broker.services, accountId, { force: true });
    assert.equal(result.outcome, "refreshed");
    const stored = await readCredentials(broker.services.db, broker.services.keyring, accountId);
    assert.notEqual(stored!.refreshToken, "stale-refresh");
    assert.equal(stored!.refreshToken, upstream.issuedRefreshTokens().at(-1));
    assert.equal(await readPendingRefresh(broker.services.redis, broker.services.keyring, accountId), undefined);
  });
});
