/**
 * Redis going away under traffic (issue 9), on a redis-server of this test's
 * own (the shared one keeps running for the other test files), with nothing
 * persisted: when it comes back it has lost every key — rate-limit counters,
 * revocation marks, and every refresh job.
 *
 * While it is down, requests that need Redis fail fast with 503 and
 * `Retry-After` (none hangs, none is a 500) and the rest still work; once
 * it is back, the same processes serve again, the worker rebuilds every
 * account's refresh job from the database at once, and the accounts are
 * refreshed on schedule.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { reserveBrokerUrl, startTestBroker, type TestBroker } from "../../support/broker.js";
import { startRedisServer, type TestRedisServer } from "../../support/redis-server.js";
import { startOAuth2Upstream, type OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { connectTestAccount, registerTestApp, type TestApp, gitHubLikeConnector } from "../../support/flow.js";
import { basic, send, type ReceivedResponse } from "../../support/raw-http.js";
import { startWorker, type RunningWorker } from "../../../src/worker/run.js";
import { refreshJobId } from "../../../src/jobs/queues.js";
import { readCredentials } from "../../../src/accounts/vault.js";
import { until } from "../../support/wait.js";
import { issueAccessToken } from "../../../src/oauth/tokens.js";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

describe("Redis unreachable during traffic", () => {
  let redis: TestRedisServer;
  let upstream: OAuth2Upstream;
  let broker: TestBroker;
  let worker: RunningWorker;
  let app: TestApp;
  let appToken: string;
  /** An app allowed to exchange tokens (for upstream tokens and for the proxy), and a subject token for it. */
  let exchanger: { id: string; secret: string };
  let subjectToken: string;
  const accounts: string[] = [];

  before(async () => {
    redis = await startRedisServer();
    const reserved = await reserveBrokerUrl();
    // Upstream tokens live 6 s and are refreshed 2 s before they expire: accounts refresh all through the test.
    upstream = await startOAuth2Upstream({
      accessTokenTtl: 6,
      clients: [{ client_id: "r", client_secret: "r-secret-0123456789", redirect_uris: [reserved.callbackUrl("gh")] }],
    });
    broker = await startTestBroker({
      port: reserved.port,
      env: { REDIS_URL: redis.url, REFRESH_RATE_PER_CONNECTOR: "1000" },
      connectors: {
        "gh.json": gitHubLikeConnector(
          upstream,
          { client_id: "r", client_secret: "r-secret-0123456789" },
          {
            refresh: { marginSeconds: 2 },
          },
        ),
      },
    });
    // The periodic pass is far away: a rebuild within the test comes from the worker noticing Redis is back.
    worker = await startWorker(broker.services, { reconcileEveryMs: 600_000 });
    app = await registerTestApp(broker);
    for (let i = 1; i <= 3; i++) {
      upstream.setUser({ id: 500 + i, login: `r${i}`, email: `r${i}@example.test`, name: `R ${i}` });
      accounts.push((await connectTestAccount(app, "gh", "proxy offline_access accounts:read")).accountId);
    }
    const issued = await send(broker.url, {
      path: "/oauth/token",
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(app.id, app.secret) },
      body: "grant_type=client_credentials&scope=accounts%3Aread%20proxy",
    });
    assert.equal(issued.status, 200, issued.text);
    appToken = String(issued.json<{ access_token: string }>()!.access_token);
    const created = await broker.services.clients.create({
      name: "Exchanger",
      redirectUris: ["http://127.0.0.1:9/cb"],
      scopes: ["proxy", "tokens:read"],
      grantTypes: ["authorization_code", TOKEN_EXCHANGE],
      allowUpstreamTokens: true,
    });
    exchanger = { id: created.client.id, secret: created.secret! };
    // Only its signature and revocation are checked before Redis is needed: whose account it names does not matter here.
    const issuedSubject = await issueAccessToken(broker.services, {
      client: created.client,
      subject: accounts[0]!,
      scope: "proxy tokens:read",
      accountId: accounts[0]!,
      connectorId: "gh",
    });
    subjectToken = issuedSubject.accessToken;
  });

  after(async () => {
    await redis?.start().catch(() => undefined);
    await worker?.close();
    await broker?.stop();
    await upstream?.close();
    await redis?.stop();
  });

  const accountsApi = () => send(broker.url, { path: "/v1/accounts", headers: { authorization: `Bearer ${appToken}` }, timeoutMs: 15_000 });
  const proxied = () =>
    send(broker.url, { path: `/v1/accounts/${accounts[0]}/proxy/echo`, headers: { authorization: `Bearer ${appToken}` }, timeoutMs: 15_000 });
  const clientToken = () =>
    send(broker.url, {
      path: "/oauth/token",
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(app.id, app.secret) },
      body: "grant_type=client_credentials",
      timeoutMs: 15_000,
    });

  /** A token exchange of `subjectToken`: for the account's upstream token, or (`forProxy`) for a proxy token. */
  const exchanged = (forProxy: boolean) =>
    send(broker.url, {
      path: "/oauth/token",
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(exchanger.id, exchanger.secret) },
      body: new URLSearchParams({
        grant_type: TOKEN_EXCHANGE,
        subject_token: subjectToken,
        subject_token_type: ACCESS_TOKEN_TYPE,
        ...(forProxy ? { resource: `${broker.url}/v1/proxy` } : {}),
      }).toString(),
      timeoutMs: 15_000,
    });

  it("requests that need Redis fail fast with 503 and Retry-After, the rest keep working; after the restart everything serves again and every refresh schedule is rebuilt", async () => {
    for (const res of [await accountsApi(), await proxied(), await clientToken()]) assert.equal(res.status, 200, res.text);
    const jobs = async () => Promise.all(accounts.map(async (id) => Boolean(await broker.services.queues.refresh.getJob(refreshJobId(id)))));
    assert.deepEqual(await jobs(), [true, true, true], "each account has its refresh job");

    await redis.stop();
    const down: { what: string; res: ReceivedResponse }[] = [];
    const until3s = Date.now() + 3_000;
    while (Date.now() < until3s) {
      for (const [what, call] of [
        ["accounts", accountsApi],
        ["proxy", proxied],
        ["token", clientToken],
        // A subject token cannot be checked against revocations either: not taken for an invalid one (400), a 503 like the rest.
        ["upstream token exchange", () => exchanged(false)],
        ["proxy token exchange", () => exchanged(true)],
      ] as const)
        down.push({ what, res: await call() });
      await new Promise((r) => setTimeout(r, 100));
    }
    const ready = await send(broker.url, { path: "/readyz" });
    assert.equal(ready.status, 503);
    assert.equal(ready.json<{ checks: { redis: string } }>()!.checks.redis, "unreachable");

    assert.deepEqual(
      down.filter((d) => d.res.status >= 500 && d.res.status !== 503).map((d) => `${d.what} ${d.res.status} ${d.res.text}`),
      [],
      "no 500 while Redis is down",
    );
    for (const { what, res } of down.filter((d) => d.what !== "token")) {
      // Bearer tokens cannot be checked against revocations without Redis: refused, never taken as valid.
      assert.equal(res.status, 503, `${what}: ${res.text}`);
      assert.equal(res.json<{ error: string }>()!.error, "service_unavailable");
      assert.match(String(res.headers["retry-after"]), /^\d+$/);
      assert.ok(res.elapsedMs < 2_000, `${what} answered in ${Math.round(res.elapsedMs)} ms`);
    }
    const tokens = down.filter((d) => d.what === "token").map((d) => d.res.status);
    assert.ok(
      tokens.every((s) => s === 200 || s === 503),
      `client_credentials while Redis is down: ${[...new Set(tokens)].join(", ")}`,
    );

    await redis.start();
    const restartedAt = Date.now();
    // The new server is empty: no job, no counter, no lock.
    await until("requests to serve again", async () => (await accountsApi()).status === 200 && (await proxied()).status === 200, 10_000);
    const rebuilt = await until("every refresh job to be rebuilt", async () => (await jobs()).every(Boolean) && Date.now() - restartedAt, 10_000);
    assert.ok(rebuilt < 10_000, `rebuilt ${rebuilt} ms after the restart`);
    const versions = await Promise.all(accounts.map(async (id) => (await readCredentials(broker.services.db, broker.services.keyring, id))!.version));
    await until(
      "every account to be refreshed after the restart",
      async () =>
        (
          await Promise.all(accounts.map(async (id, i) => (await readCredentials(broker.services.db, broker.services.keyring, id))!.version > versions[i]!))
        ).every(Boolean),
      15_000,
    );
    const statuses = await broker.services.db.account.findMany({ where: { id: { in: accounts } }, select: { status: true } });
    assert.deepEqual(
      statuses.map((a) => a.status),
      ["active", "active", "active"],
      "no account was lost to the outage",
    );
    assert.equal((await send(broker.url, { path: "/readyz" })).status, 200);
    const reconciled = broker.services.logs.lines.filter((l) => l.msg === "redis is back: reconciling refresh schedules");
    assert.ok(reconciled.length >= 1, "the worker noticed Redis coming back");
    const refused = down.filter((d) => d.res.status === 503).map((d) => d.res.elapsedMs);
    console.log(
      `redis down: ${refused.length} requests answered 503 in ${Math.round(Math.min(...refused))}–${Math.round(Math.max(...refused))} ms, client_credentials ${[...new Set(tokens)].join("/")}; jobs rebuilt ${rebuilt} ms after the restart`,
    );
  });
});
