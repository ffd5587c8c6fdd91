/**
 * Two broker processes and two workers on the same PostgreSQL and Redis,
 * under load (issue 9): apps call the upstream API through both brokers
 * while the workers refresh on schedule, and every few seconds the upstream
 * expires every access token, so the proxies of both processes and both
 * workers race to refresh the same accounts.
 *
 * The upstream rotates refresh tokens strictly (single use) and revokes the
 * whole family when one is presented twice, so a double refresh would both
 * show in its counters and break the account. Afterwards: no refresh token
 * was ever presented twice, every upstream refresh produced exactly one
 * stored credential version (none was lost), every account is active, and
 * its stored refresh token is the live one.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Agent } from "node:http";
import { reserveBrokerUrl, startTestBroker, type TestBroker } from "../../support/broker.js";
import { startOAuth2Upstream, type OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { connectTestAccount, registerTestApp, type TestApp, gitHubLikeConnector } from "../../support/flow.js";
import { brokerProcessEnv, listeningUrl, startBrokerProcess, type BrokerProcess } from "../../support/broker-process.js";
import { basic, send } from "../../support/raw-http.js";
import { readCredentials } from "../../../src/accounts/vault.js";
import { refreshAccount } from "../../../src/accounts/refresh.js";

const ACCOUNTS = 10;
const LOAD_MS = 12_000;

describe("two brokers and two workers on the same databases, under load", () => {
  let upstream: OAuth2Upstream;
  let broker: TestBroker;
  let app: TestApp;
  const processes: BrokerProcess[] = [];
  const accounts: { id: string; userId: number; initialVersion: number }[] = [];

  before(async () => {
    const reserved = await reserveBrokerUrl();
    upstream = await startOAuth2Upstream({
      accessTokenTtl: 5,
      revokeFamilyOnReuse: true,
      clients: [{ client_id: "m", client_secret: "m-secret-0123456789", redirect_uris: [reserved.callbackUrl("gh")] }],
    });
    broker = await startTestBroker({
      port: reserved.port,
      connectors: {
        "gh.json": gitHubLikeConnector(
          upstream,
          { client_id: "m", client_secret: "m-secret-0123456789" },
          {
            refresh: { marginSeconds: 3 },
          },
        ),
      },
    });
    app = await registerTestApp(broker);
    for (let i = 1; i <= ACCOUNTS; i++) {
      const userId = 700 + i;
      upstream.setUser({ id: userId, login: `m${i}`, email: `m${i}@example.test`, name: `M ${i}` });
      const { accountId } = await connectTestAccount(app, "gh", "proxy offline_access");
      accounts.push({ id: accountId, userId, initialVersion: (await readCredentials(broker.services.db, broker.services.keyring, accountId))!.version });
    }
  });

  after(async () => {
    for (const p of processes) await p.kill("SIGKILL");
    await broker?.stop();
    await upstream?.close();
  });

  it("never refreshes an account twice with one refresh token and loses no refresh token", async () => {
    const env = brokerProcessEnv(broker.services, {
      WORKER_CONCURRENCY: "4",
      REFRESH_RATE_PER_CONNECTOR: "1000",
      RATE_LIMIT_PER_IP: "1000000",
      RATE_LIMIT_PER_CLIENT: "1000000",
    });
    const started = await Promise.all([
      startBrokerProcess("serve", env),
      startBrokerProcess("serve", env),
      startBrokerProcess("worker", env),
      startBrokerProcess("worker", env),
    ]);
    processes.push(...started);
    const brokers = started.slice(0, 2).map(listeningUrl);
    assert.notEqual(brokers[0], brokers[1]);
    // Slow enough that refreshes from different processes overlap.
    upstream.setTokenDelay(150);

    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const appToken = await send(brokers[0]!, {
      path: "/oauth/token",
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(app.id, app.secret) },
      body: "grant_type=client_credentials&scope=proxy",
    });
    assert.equal(appToken.status, 200, appToken.text);
    const token = String(appToken.json<{ access_token: string }>()!.access_token);

    const statuses = new Map<number, number>();
    const brokerRefusals: string[] = [];
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
    const deadline = Date.now() + LOAD_MS;
    let turn = 0;
    const caller = async (index: number) => {
      while (Date.now() < deadline) {
        const base = brokers[(index + turn++) % 2]!;
        const account = accounts[(index + turn) % ACCOUNTS]!;
        const res = await send(base, {
          path: `/v1/accounts/${account.id}/proxy/repos?n=${turn}`,
          headers: { authorization: `Bearer ${token}` },
          agent,
          timeoutMs: 30_000,
        });
        count(res.status);
        // The expirer may kill a token between a refresh and the retry it was for: the upstream's 401 is then relayed as is.
        if (res.status !== 200 && !(res.status === 401 && res.json<{ message?: string }>()?.message === "Bad credentials"))
          brokerRefusals.push(`${res.status} ${res.text.slice(0, 200)}`);
        if (index === 0 && turn % 10 === 0) {
          const issued = await send(base, {
            path: "/oauth/token",
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(app.id, app.secret) },
            body: "grant_type=client_credentials",
            agent,
          });
          count(issued.status);
        }
      }
    };
    // Every 2 s every upstream access token dies: the next calls through both brokers refresh on demand, at once.
    const expirer = (async () => {
      while (Date.now() < deadline - 1_000) {
        await new Promise((r) => setTimeout(r, 2_000));
        upstream.expireAccessTokens();
      }
    })();
    await Promise.all([...Array.from({ length: 20 }, (_, i) => caller(i)), expirer]);
    agent.destroy();
    // Graceful stops: a refresh in flight finishes and is stored before its process exits.
    await Promise.all(processes.map((p) => p.stop(10_000)));

    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    const summary = [...statuses]
      .sort((a, b) => a[0] - b[0])
      .map(([s, n]) => `${s}×${n}`)
      .join(" ");
    assert.ok(total >= 100, `load was applied (${total} requests: ${summary})`);
    assert.deepEqual(brokerRefusals.slice(0, 5), [], `every proxied call succeeded or relayed the upstream's answer (${summary})`);

    assert.equal(upstream.stats.refreshReplays, 0, "no refresh token was presented twice");
    const perAccount: string[] = [];
    let refreshes = 0;
    for (const account of accounts) {
      const credentials = (await readCredentials(broker.services.db, broker.services.keyring, account.id))!;
      const upstreamRefreshes = upstream.stats.refreshByUser[account.userId] ?? 0;
      refreshes += upstreamRefreshes;
      perAccount.push(`${upstreamRefreshes}`);
      // Each refresh at the upstream became exactly one stored version: none was made twice, none thrown away.
      assert.equal(credentials.version - account.initialVersion, upstreamRefreshes, `account ${account.id}: stored versions vs upstream refreshes`);
    }
    const rows = await broker.services.db.account.findMany({ where: { id: { in: accounts.map((a) => a.id) } }, select: { status: true } });
    assert.deepEqual(
      rows.map((r) => r.status),
      Array(ACCOUNTS).fill("active"),
      "every account is still active",
    );
    assert.ok(refreshes >= ACCOUNTS * 3, `accounts were refreshed over and over under load (${refreshes})`);

    // The stored refresh token of each account is the live one: one more refresh works, and is the only use of it.
    for (const account of accounts) {
      const result = await refreshAccount(broker.services, account.id, { force: true });
      assert.equal(result.outcome, "refreshed");
    }
    assert.equal(upstream.stats.refreshReplays, 0);
    console.log(
      `two brokers + two workers: ${total} requests (${summary}) in ${LOAD_MS / 1000} s, ${refreshes} upstream refreshes (per account ${perAccount.join(", ")}), 0 replays`,
    );
  });
});
