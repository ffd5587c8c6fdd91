/**
 * A worker process SIGKILLed in the middle of a burst of refreshes (issue 9).
 * The worker runs as an operator runs it (`node bin/authbroker.js worker`);
 * a dozen accounts fall due at once and the upstream answers slowly, so the
 * kill lands while refreshes are at the upstream. A second worker then takes
 * over: the dead worker's jobs come back once their BullMQ lock lapses
 * (WORKER_JOB_LOCK_MS) and its refresh locks expire (REFRESH_LOCK_TTL_MS).
 *
 * No account may be lost or wrongly marked needs_reauth, and every one must
 * end with fresh credentials. A refresh cut by the kill may already have
 * rotated the token at the upstream without the broker hearing the answer:
 * the upstream here allows a used refresh token again for a short grace (as
 * Okta and Auth0 do, for exactly this); the test checks the broker needed
 * that grace only for refreshes that were in flight at the kill, and never
 * presented a refresh token twice otherwise.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { reserveBrokerUrl, startTestBroker, type TestBroker } from "../../support/broker.js";
import { startOAuth2Upstream, type OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { connectTestAccount, registerTestApp, gitHubLikeConnector } from "../../support/flow.js";
import { brokerProcessEnv, startBrokerProcess, type BrokerProcess } from "../../support/broker-process.js";
import { readCredentials } from "../../../src/accounts/vault.js";
import { refreshJobId } from "../../../src/jobs/queues.js";
import { until } from "../../support/wait.js";

const ACCOUNTS = 12;

describe("a worker SIGKILLed during a refresh burst", () => {
  let upstream: OAuth2Upstream;
  let broker: TestBroker;
  const workers: BrokerProcess[] = [];
  const accounts: string[] = [];
  const initialVersions = new Map<string, number>();

  before(async () => {
    const reserved = await reserveBrokerUrl();
    upstream = await startOAuth2Upstream({
      accessTokenTtl: 20,
      refreshTokenReuseGraceSeconds: 60,
      clients: [{ client_id: "k", client_secret: "k-secret-0123456789", redirect_uris: [reserved.callbackUrl("gh")] }],
    });
    broker = await startTestBroker({
      port: reserved.port,
      connectors: {
        "gh.json": gitHubLikeConnector(
          upstream,
          { client_id: "k", client_secret: "k-secret-0123456789" },
          {
            // Tokens live 20 s and fall due 18 s before they expire: every account is due 2 s after it connects.
            refresh: { marginSeconds: 18 },
          },
        ),
      },
    });
    const app = await registerTestApp(broker);
    for (let i = 1; i <= ACCOUNTS; i++) {
      upstream.setUser({ id: 900 + i, login: `k${i}`, email: `k${i}@example.test`, name: `K ${i}` });
      const { accountId } = await connectTestAccount(app, "gh", "proxy offline_access");
      accounts.push(accountId);
      initialVersions.set(accountId, (await readCredentials(broker.services.db, broker.services.keyring, accountId))!.version);
    }
  });

  after(async () => {
    for (const worker of workers) await worker.kill("SIGKILL");
    await broker?.stop();
    await upstream?.close();
  });

  it("loses no account, marks none needs_reauth, and every account ends with fresh credentials", async () => {
    const env = brokerProcessEnv(broker.services, {
      WORKER_CONCURRENCY: "4",
      REFRESH_RATE_PER_CONNECTOR: "1000",
      // Short locks, so the dead worker's jobs and refresh locks come free within the test.
      WORKER_JOB_LOCK_MS: "2000",
      REFRESH_LOCK_TTL_MS: "4000",
    });
    // Every account is due; the upstream takes 1.5 s per refresh, so refreshes are in flight when the kill comes.
    await new Promise((r) => setTimeout(r, 2_000));
    upstream.setTokenDelay(1_500);
    const first = await startBrokerProcess("worker", env);
    workers.push(first);
    await until("refreshes in flight at the upstream", async () => (upstream.stats.tokenByGrant.refresh_token ?? 0) >= 4, 20_000);
    await first.kill("SIGKILL");
    const killedAt = new Date();
    const answeredBeforeKill = Object.values(upstream.stats.refreshByUser).reduce((a, b) => a + b, 0);
    const inFlightAtKill = (upstream.stats.tokenByGrant.refresh_token ?? 0) - answeredBeforeKill;
    assert.equal(first.child.signalCode, "SIGKILL");
    assert.ok(inFlightAtKill >= 1, `the kill cut refreshes in flight (${inFlightAtKill})`);

    upstream.setTokenDelay(100);
    const second = await startBrokerProcess("worker", env);
    workers.push(second);

    // Every account refreshed after the kill, by the second worker.
    await until(
      "every account to be refreshed after the kill",
      async () => {
        const rows = await broker.services.db.account.findMany({ where: { id: { in: accounts } }, select: { lastRefreshedAt: true, status: true } });
        return rows.length === ACCOUNTS && rows.every((a) => a.status === "active" && a.lastRefreshedAt !== null && a.lastRefreshedAt > killedAt);
      },
      40_000,
    );
    await second.stop();

    const rows = await broker.services.db.account.findMany({ where: { id: { in: accounts } } });
    assert.equal(rows.length, ACCOUNTS, "no account was lost");
    assert.deepEqual(
      rows.map((a) => a.status),
      Array(ACCOUNTS).fill("active"),
      "no account is needs_reauth",
    );
    for (const id of accounts) {
      const credentials = (await readCredentials(broker.services.db, broker.services.keyring, id))!;
      assert.ok(credentials.version > initialVersions.get(id)!, `${id} has new credentials`);
      assert.ok(credentials.expiresAt! > new Date(), `${id}'s access token is fresh`);
      // The stored access token works at the upstream: it is the one the upstream last issued.
      const me = await fetch(upstream.userUrl, { headers: { authorization: `Bearer ${credentials.accessToken}` } });
      assert.equal(me.status, 200, `${id}'s stored access token is valid upstream`);
      assert.ok(await broker.services.queues.refresh.getJob(refreshJobId(id)), `${id} still has its refresh job`);
    }
    assert.equal(upstream.stats.refreshReplays, 0, "no refresh token was refused as already used");
    assert.ok(
      upstream.stats.refreshReusesInGrace <= inFlightAtKill,
      `the reuse grace was needed only by refreshes the kill cut (${upstream.stats.refreshReusesInGrace} of ${inFlightAtKill})`,
    );
    const secondLog = second.logLines();
    assert.ok(!secondLog.some((l) => l.msg === "account needs reauthorization"), "the second worker marked nothing needs_reauth");
    console.log(
      `worker SIGKILL: ${inFlightAtKill} refreshes in flight at the kill, ${upstream.stats.refreshReusesInGrace} used the upstream's reuse grace, all ${ACCOUNTS} accounts refreshed by the second worker`,
    );
  });
});
