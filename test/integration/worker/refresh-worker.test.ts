/**
 * The background refresh worker (issue 6): one delayed job per account,
 * refreshed before expiry and rescheduled, rebuilt by the reconciler when
 * Redis loses it, and an app notified by a signed webhook when an account
 * needs to be connected again.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import { once } from "node:events";
import * as client from "openid-client";
import { reserveBrokerUrl, startTestBroker, type TestBroker } from "../../support/broker.js";
import { startOAuth2Upstream, type OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { connectTestAccount, TEST_APP_REDIRECT, type TestApp } from "../../support/flow.js";
import { startWorker, type RunningWorker } from "../../../src/worker/run.js";
import { overduePriority, plannedRefreshTime, Queues, refreshJobId, type RefreshJobData } from "../../../src/jobs/queues.js";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { processRefreshJob, upstreamBackoff } from "../../../src/worker/refresh-processor.js";
import { DelayedError, type Job } from "bullmq";
import { UpstreamError } from "../../../src/errors.js";
import { readCredentials } from "../../../src/accounts/vault.js";
import { connectAccount } from "../../../src/accounts/accounts.js";
import { reconcileRefreshJobs } from "../../../src/worker/reconciler.js";
import { until } from "../../support/wait.js";
import { Metrics } from "../../../src/metrics.js";

describe("background refresh worker", () => {
  let broker: TestBroker;
  let upstream: OAuth2Upstream;
  let worker: RunningWorker;
  let app: TestApp;
  let webhookSecret: string;
  const webhooks: { headers: IncomingMessage["headers"]; body: string }[] = [];
  const webhookServer = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      webhooks.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });

  before(async () => {
    webhookServer.listen(0, "127.0.0.1");
    await once(webhookServer, "listening");
    const reserved = await reserveBrokerUrl();
    // Tokens live 3 s; the connector refreshes 1 s before expiry.
    upstream = await startOAuth2Upstream({
      accessTokenTtl: 3,
      clients: [{ client_id: "w", client_secret: "w-secret-0123456789", redirect_uris: [reserved.callbackUrl("short")] }],
    });
    broker = await startTestBroker({
      port: reserved.port,
      connectors: {
        "short.json": {
          id: "short",
          name: "Short-lived tokens",
          auth: {
            kind: "oauth2",
            authorizationUrl: upstream.authorizationUrl,
            tokenUrl: upstream.tokenUrl,
            clientId: "w",
            clientSecret: "w-secret-0123456789",
          },
          scopes: { user: ["read:user"] },
          defaultScopes: ["user"],
          api: { baseUrl: upstream.apiUrl, credentials: "bearer" },
          identity: { url: upstream.userUrl, subject: "id", email: "email", name: "name" },
          refresh: { marginSeconds: 1 },
        },
      },
    });
    const port = (webhookServer.address() as { port: number }).port;
    const created = await broker.services.clients.create(
      { name: "Webhook App", redirectUris: [TEST_APP_REDIRECT], scopes: ["proxy", "offline_access"], webhookUrl: `http://127.0.0.1:${port}/hooks` },
      broker.services.keyring,
    );
    webhookSecret = created.webhookSecret!;
    const config = await client.discovery(new URL(broker.url), created.client.id, undefined, client.ClientSecretBasic(created.secret!), {
      execute: [client.allowInsecureRequests],
    });
    app = { id: created.client.id, secret: created.secret!, config };
    worker = await startWorker(broker.services, { reconcileEveryMs: 60_000 });
  });

  after(async () => {
    await worker?.close();
    await broker?.stop();
    await upstream?.close();
    webhookServer.close();
  });

  it("schedules exactly one delayed job per account when it connects", async () => {
    upstream.setUser({ id: 1, login: "a", email: "a@example.test", name: "A" });
    const { accountId } = await connectTestAccount(app, "short");
    const job = await broker.services.queues.refresh.getJob(refreshJobId(accountId));
    assert.ok(job, "a job refresh-<accountId> exists");
    assert.ok(["delayed", "waiting", "active"].includes(await job.getState()));
    const counts = await broker.services.queues.refresh.getJobCounts("delayed", "waiting", "active");
    assert.ok(counts.delayed! + counts.waiting! + counts.active! >= 1);
  });

  it("refreshes before expiry and reschedules the same job for the new expiry", async () => {
    upstream.setUser({ id: 2, login: "b", email: "b@example.test", name: "B" });
    const { accountId } = await connectTestAccount(app, "short");
    const first = await readCredentials(broker.services.db, broker.services.keyring, accountId);
    const refreshed = await until("two background refreshes", async () => {
      const now = await readCredentials(broker.services.db, broker.services.keyring, accountId);
      return now && now.version >= first!.version + 2 ? now : undefined;
    });
    assert.notEqual(refreshed.accessToken, first!.accessToken);
    assert.ok(refreshed.expiresAt! > first!.expiresAt!, "the new expiry is later");
    const job = await broker.services.queues.refresh.getJob(refreshJobId(accountId));
    assert.ok(job && ["delayed", "active", "waiting"].includes(await job.getState()), "the same job is pending again");
  });

  it("the reconciler rebuilds a schedule Redis lost", async () => {
    upstream.setUser({ id: 3, login: "c", email: "c@example.test", name: "C" });
    const { accountId } = await connectTestAccount(app, "short");
    const job = await broker.services.queues.refresh.getJob(refreshJobId(accountId));
    await job?.remove().catch(() => undefined);
    assert.equal(await broker.services.queues.refresh.getJob(refreshJobId(accountId)), undefined);
    await worker.reconcile();
    assert.ok(await broker.services.queues.refresh.getJob(refreshJobId(accountId)), "the job is back");
  });

  it("the reconciler rebuilds many lost schedules in batches (addBulk), soonest expiry first, and replaces a job that failed for good", async () => {
    const queue = broker.services.queues.refresh;
    const count = 40;
    const now = Date.now();
    // Expiries an hour or more away (the worker leaves them alone), created in an order unrelated to them.
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const { id } = await connectAccount(broker.services.db, broker.services.keyring, {
        appId: app.id,
        connectorId: "short",
        identity: { subject: `reconcile-${i}` },
        scopes: ["read:user"],
        tokens: { accessToken: `at-${i}`, refreshToken: `rt-${i}`, tokenType: "bearer", expiresAt: new Date(now + 3_600_000 + ((i * 7919) % count) * 60_000) },
      });
      ids.push(id);
    }
    // Nothing was scheduled for them (connectAccount alone does not); one has a job that finished
    // for good (as the reconciler sees it: a hash with `finishedOn`; delayed, so no worker takes it meanwhile).
    await queue.add("refresh", { accountId: ids[0]!, plannedAt: now }, { jobId: refreshJobId(ids[0]!), delay: 7_200_000 });
    await broker.services.redis.hset(`${broker.services.config.queuePrefix}:refresh:${refreshJobId(ids[0]!)}`, "finishedOn", String(now));

    const added: string[] = [];
    const addBulk = queue.addBulk.bind(queue);
    let bulkCalls = 0;
    const scheduleRefresh = broker.services.queues.scheduleRefresh;
    let oneByOne = 0;
    queue.addBulk = (async (jobs: Parameters<typeof addBulk>[0]) => {
      bulkCalls++;
      added.push(...jobs.map((j) => j.data.accountId));
      return addBulk(jobs);
    }) as typeof queue.addBulk;
    broker.services.queues.scheduleRefresh = async (...args) => {
      oneByOne++;
      return scheduleRefresh.apply(broker.services.queues, args);
    };
    try {
      await reconcileRefreshJobs(broker.services);
    } finally {
      queue.addBulk = addBulk;
      broker.services.queues.scheduleRefresh = scheduleRefresh;
    }
    assert.equal(oneByOne, 0, "no job scheduled one at a time");
    assert.ok(bulkCalls >= 1 && bulkCalls <= 2, `one addBulk per page (${bulkCalls})`);
    const ours = added.filter((id) => ids.includes(id));
    assert.equal(ours.length, count, "every account of this test got its job back");
    const expiries = await broker.services.db.account.findMany({ where: { id: { in: ours } }, select: { id: true, credentialExpiresAt: true } });
    const expiryOf = new Map(expiries.map((a) => [a.id, a.credentialExpiresAt!.getTime()]));
    const inOrder = ours.map((id) => expiryOf.get(id)!);
    assert.deepEqual(
      inOrder,
      [...inOrder].sort((a, b) => a - b),
      "added soonest expiry first",
    );
    for (const id of ids) {
      const job = await queue.getJob(refreshJobId(id));
      assert.equal(await job?.getState(), "delayed", `${id}'s job is pending again`);
      const target = expiryOf.get(id)! - 1_000;
      assert.ok(
        job!.data.plannedAt <= target && job!.data.plannedAt >= target - 60_000,
        "planned the connector's margin before expiry, less at most 60 s of jitter",
      );
      assert.ok(job!.timestamp + job!.delay - job!.data.plannedAt < 1_000, "delayed to its planned time");
    }
  });

  it("refreshes scheduled overdue run soonest expiry first, whatever order they were scheduled in; on-time ones wait in the delayed set without a priority", async () => {
    // A queue of its own (no worker on it), to see the order BullMQ would hand the jobs out in.
    const queues = new Queues(broker.services.config.redisUrl, `test-order-${Date.now()}`);
    try {
      const now = Date.now();
      for (const [id, seconds] of [
        ["acc-b", 50],
        ["acc-a", 10],
        ["acc-d", 3_600],
        ["acc-c", 30],
      ] as const) {
        await queues.scheduleRefresh(id, new Date(now + seconds * 1000), 300);
      }
      const ready = await queues.refresh.getPrioritized();
      assert.deepEqual(
        ready.map((j) => j.data.accountId),
        ["acc-a", "acc-c", "acc-b"],
      );
      assert.deepEqual(
        ready.map((j) => j.priority),
        [10, 30, 50],
        "the seconds left before expiry",
      );
      const onTime = (await queues.refresh.getJob(refreshJobId("acc-d")))!;
      assert.equal(await onTime.getState(), "delayed");
      assert.equal(onTime.priority, 0);
    } finally {
      await queues.refresh.obliterate({ force: true });
      await queues.close();
    }
  });

  it("records a job's scheduling lag once, when its refresh starts, not at each try the rate limit puts back", async () => {
    upstream.setUser({ id: 5, login: "e", email: "e@example.test", name: "E" });
    const { accountId } = await connectTestAccount(app, "short");
    // Its own rate-limit keys and metrics: the running worker refreshes "short" accounts in the same seconds, and would
    // both take this connector's one slot and observe lags of its own (seen in CI under load).
    const services = {
      ...broker.services,
      metrics: new Metrics({ defaultMetrics: false }),
      config: { ...broker.services.config, refreshRatePerConnector: 1, queuePrefix: `lag-test-${Date.now()}` },
    };
    const lagCount = async () => (await services.metrics.refreshLag.get()).values.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0;
    const moves: number[] = [];
    const job = {
      id: "lag-test",
      data: { accountId, plannedAt: Date.now() - 2_000 },
      attemptsMade: 0,
      priority: 0,
      moveToDelayed: async (at: number) => void moves.push(at),
      updateData: async () => undefined,
      changePriority: async () => undefined,
    } as unknown as Job<RefreshJobData>;
    // This connector's per-second slots are used up for the next few seconds.
    const second = Math.floor(Date.now() / 1000);
    const slotKeys = [0, 1, 2, 3].map((i) => `${services.config.queuePrefix}:ratelimit:refresh:short:${second + i}`);
    for (const key of slotKeys) await services.redis.set(key, "1000", "EX", 10);
    const before = await lagCount();
    await assert.rejects(processRefreshJob(services, job, "token"), DelayedError);
    assert.equal(moves.length, 1, "put back by the rate limit");
    assert.equal(await lagCount(), before, "no lag recorded for a run that did not start");
    await services.redis.del(...slotKeys);
    await assert.rejects(processRefreshJob(services, job, "token"), DelayedError, "refreshed (or fresh), then moved to its next run");
    assert.equal(await lagCount(), before + 1, "recorded once, when the refresh started");
  });

  it("invalid_grant marks the account needs_reauth, stops its schedule and sends the app a signed webhook", async () => {
    upstream.setUser({ id: 4, login: "d", email: "d@example.test", name: "D" });
    const { accountId } = await connectTestAccount(app, "short");
    upstream.revokeAll();
    const account = await until("needs_reauth", async () => {
      const a = await broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } });
      return a.status === "needs_reauth" ? a : undefined;
    });
    assert.equal(account.status, "needs_reauth");
    const hook = await until("the webhook", async () => webhooks.find((w) => w.body.includes(accountId) && w.body.includes('"type":"account.needs_reauth"')));
    const headers = hook.headers as Record<string, string>;
    // Standard Webhooks: the app's library checks the signature with the secret as it was shown.
    const event = new Webhook(webhookSecret).verify(hook.body, headers) as { type: string; data: { account_id: string; connector: string } };
    assert.equal(event.type, "account.needs_reauth");
    assert.equal(event.data.connector, "short");
    assert.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString("base64")}`).verify(hook.body, headers), WebhookVerificationError);
    await new Promise((r) => setTimeout(r, 300));
    const job = await broker.services.queues.refresh.getJob(refreshJobId(accountId));
    assert.ok(!job || (await job.getState()) === "failed", "no pending refresh for an account that needs reauth");
  });

  it("a later successful reconnect reactivates the account and schedules it again", async () => {
    upstream.setUser({ id: 4, login: "d", email: "d@example.test", name: "D" });
    const { accountId } = await connectTestAccount(app, "short");
    const account = await broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } });
    assert.equal(account.status, "active");
    const job = await broker.services.queues.refresh.getJob(refreshJobId(accountId));
    assert.ok(job && ["delayed", "waiting", "active"].includes(await job.getState()));
  });
});

describe("refresh timing and backoff", () => {
  it("plans a refresh margin seconds before expiry, minus at most 10 % of the lifetime (max 60 s) of jitter", () => {
    const now = 1_000_000;
    const expiresAt = new Date(now + 3_600_000);
    assert.equal(
      plannedRefreshTime(expiresAt, 300, now, () => 0),
      now + 3_300_000,
    );
    assert.equal(
      plannedRefreshTime(expiresAt, 300, now, () => 0.999999),
      now + 3_300_000 - 59_999,
    );
    assert.equal(
      plannedRefreshTime(new Date(now + 1000), 300, now, () => 0.5),
      now,
      "already inside the margin: now",
    );
  });

  it("gives an overdue refresh the seconds left before expiry as its priority (at least 1), an on-time one none", () => {
    const now = 1_000_000;
    assert.equal(overduePriority(new Date(now + 30_000), now, now), 30);
    assert.equal(overduePriority(new Date(now + 29_001), now, now), 30);
    assert.equal(overduePriority(new Date(now - 5_000), now, now), 1, "already expired: first");
    assert.equal(overduePriority(new Date(now + 10 * 365 * 86_400_000), now, now), 2_097_152, "BullMQ's largest");
    assert.equal(overduePriority(new Date(now + 3_600_000), now + 1, now), undefined, "planned later: on time");
  });

  it("backs off exponentially with jitter and honours a longer Retry-After", () => {
    for (let attempt = 1; attempt <= 6; attempt++) {
      const delay = upstreamBackoff(attempt);
      const base = 5_000 * 2 ** (attempt - 1);
      assert.ok(delay >= base / 2 && delay <= base, `attempt ${attempt}: ${delay}`);
    }
    assert.ok(upstreamBackoff(30) <= 15 * 60_000, "capped at 15 minutes");
    assert.equal(upstreamBackoff(1, undefined, new UpstreamError("busy", { headers: { "Retry-After": "120" } })), 120_000);
  });
});
