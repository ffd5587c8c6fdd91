/**
 * Webhooks for every account event, in the Standard Webhooks format: each
 * event reaches the app's endpoint (a local receiver) signed so that the
 * `standardwebhooks` library verifies it with the secret `apps create`
 * showed; a receiver that answers 500 gets the same message again with
 * growing delays until it takes it; the delivery log says how each went and
 * an operator can send one again.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { startBrokerWithGitHubLike, connectTestAccount, TEST_APP_REDIRECT, type TestApp } from "../../support/flow.js";
import type { TestBroker } from "../../support/broker.js";
import type { OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from "../../support/webhook-receiver.js";
import { until } from "../../support/wait.js";
import { startWorker, type RunningWorker } from "../../../src/worker/run.js";
import { AccountNeedsReauth, refreshAccount } from "../../../src/accounts/refresh.js";
import { enqueueLostDeliveries } from "../../../src/jobs/webhook-deliveries.js";

const ADMIN_TOKEN = "webhooks-admin-token-0123456789abcdef";
const SCOPES = ["openid", "offline_access", "proxy", "accounts:read", "accounts:write"];

interface EventPayload {
  type: string;
  timestamp: string;
  data: Record<string, unknown> & { account_id: string; client_id: string; connector: string; upstream_subject: string };
}

describe("webhooks: account events in the Standard Webhooks format", () => {
  let setup: Awaited<ReturnType<typeof startBrokerWithGitHubLike>>;
  let broker: TestBroker;
  let upstream: OAuth2Upstream;
  let worker: RunningWorker;
  let receiver: WebhookReceiver;
  let app: TestApp;
  let webhookSecret: string;
  let nextUser = 500;

  before(async () => {
    receiver = await startWebhookReceiver();
    // Retries 200 ms, 400 ms, 800 ms apart; four attempts in all.
    setup = await startBrokerWithGitHubLike({ env: { BROKER_ADMIN_TOKEN: ADMIN_TOKEN, WEBHOOK_RETRY_DELAY_MS: "200", WEBHOOK_MAX_ATTEMPTS: "4" } });
    ({ broker, upstream } = setup);
    const created = await admin("POST", "/admin/v1/apps", {
      name: "Hooked app",
      redirect_uris: [TEST_APP_REDIRECT],
      scopes: SCOPES,
      webhook_url: receiver.url,
    });
    assert.equal(created.status, 201);
    const body = (await created.json()) as { client_id: string; client_secret: string; webhook_secret: string; webhook_url: string };
    webhookSecret = body.webhook_secret;
    assert.match(webhookSecret, /^whsec_[A-Za-z0-9+/]+=*$/, "whsec_ and standard base64, as the libraries read it");
    assert.equal(Buffer.from(webhookSecret.slice(6), "base64").length, 32);
    const config = await client.discovery(new URL(broker.url), body.client_id, undefined, client.ClientSecretBasic(body.client_secret), {
      execute: [client.allowInsecureRequests],
    });
    app = { id: body.client_id, secret: body.client_secret, config };
    worker = await startWorker(broker.services, { reconcileEveryMs: 60_000 });
  });

  after(async () => {
    await worker?.close();
    await setup?.stop();
    await receiver?.close();
  });

  function admin(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${broker.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  async function connectNew(scope = "proxy offline_access accounts:write") {
    const id = nextUser++;
    upstream.setUser({ id, login: `u${id}`, email: `u${id}@example.test`, name: `User ${id}` });
    return connectTestAccount(app, "gh", scope);
  }

  /** The app's verified events of `type` for `accountId`, as its own code would read them. */
  function eventsOf(type: string, accountId: string): { hook: ReceivedWebhook; event: EventPayload }[] {
    return receiver.received
      .filter((hook) => hook.status < 300)
      .map((hook) => ({ hook, event: new Webhook(webhookSecret).verify(hook.body, hook.headers as Record<string, string>) as EventPayload }))
      .filter(({ event }) => event.type === type && event.data.account_id === accountId);
  }

  function waitForEvent(type: string, accountId: string) {
    return until(`${type} for ${accountId}`, async () => eventsOf(type, accountId)[0]);
  }

  it("account.connected: signed for standardwebhooks, with the account, app, connector and upstream subject", async () => {
    const { accountId } = await connectNew();
    const { hook, event } = await waitForEvent("account.connected", accountId);
    assert.match(String(hook.headers["webhook-id"]), /^msg_/);
    assert.match(String(hook.headers["webhook-signature"]), /^v1,[A-Za-z0-9+/]+=*$/);
    assert.ok(Math.abs(Number(hook.headers["webhook-timestamp"]) - Date.now() / 1000) < 30);
    assert.deepEqual(event.data, { account_id: accountId, client_id: app.id, connector: "gh", hostname: null, upstream_subject: String(nextUser - 1) });
    assert.ok(!Number.isNaN(Date.parse(event.timestamp)));
    // Another secret, a changed body, a changed id: refused.
    const headers = hook.headers as Record<string, string>;
    assert.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 1).toString("base64")}`).verify(hook.body, headers), WebhookVerificationError);
    assert.throws(() => new Webhook(webhookSecret).verify(hook.body.replace(accountId, "acc_other"), headers), WebhookVerificationError);
    assert.throws(() => new Webhook(webhookSecret).verify(hook.body, { ...headers, "webhook-id": "msg_other" }), WebhookVerificationError);
  });

  it("account.reconnected: the same upstream user connected again", async () => {
    const { accountId } = await connectNew();
    upstream.setUser({ id: nextUser - 1, login: "again", email: "again@example.test", name: "Again" });
    const again = await connectTestAccount(app, "gh", "proxy offline_access");
    assert.equal(again.accountId, accountId);
    await waitForEvent("account.reconnected", accountId);
  });

  it("account.recovered: a refresh succeeds after a failed one, and only then", async () => {
    const { accountId } = await connectNew();
    await refreshAccount(broker.services, accountId, { force: true });
    upstream.failNextToken(500, { error: "server_error" });
    await assert.rejects(refreshAccount(broker.services, accountId, { force: true }));
    assert.ok((await broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } })).lastError, "the failure is on the account");
    await refreshAccount(broker.services, accountId, { force: true });
    await waitForEvent("account.recovered", accountId);
    await refreshAccount(broker.services, accountId, { force: true });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(eventsOf("account.recovered", accountId).length, 1, "a refresh of a working account is no recovery");
  });

  /** Takes the account's refresh token away, as an upstream that issued none would have. */
  async function withoutRefreshToken(accountId: string, expiresAt?: Date) {
    await broker.services.db.credential.update({ where: { accountId }, data: { sealedRefreshToken: null, ...(expiresAt ? { expiresAt } : {}) } });
    if (expiresAt) await broker.services.db.account.update({ where: { id: accountId }, data: { credentialExpiresAt: expiresAt } });
  }

  it("account.expiring: credentials that expire soon with no refresh token, once per set of credentials", async () => {
    const { accountId } = await connectNew();
    const expiresAt = new Date(Date.now() + 60_000);
    await withoutRefreshToken(accountId, expiresAt);
    // Within the connector's refresh margin: the worker's job runs now and finds nothing to refresh with.
    await broker.services.queues.scheduleRefresh(accountId, expiresAt, 300);
    const { event } = await waitForEvent("account.expiring", accountId);
    assert.equal(event.data.expires_at, expiresAt.toISOString());
    // The reconciler plans the job again; the app is not told twice.
    await broker.services.queues.scheduleRefresh(accountId, expiresAt, 300);
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(eventsOf("account.expiring", accountId).length, 1);
  });

  it("account.revoked_upstream: the upstream refuses the credentials (401) and nothing newer can be had", async () => {
    const { accountId, tokens } = await connectNew();
    await withoutRefreshToken(accountId);
    upstream.expireAccessTokens();
    const call = () => fetch(`${broker.url}/v1/proxy/user`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal((await call()).status, 401, "the app gets the upstream's 401");
    await waitForEvent("account.revoked_upstream", accountId);
    assert.equal((await call()).status, 401);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(eventsOf("account.revoked_upstream", accountId).length, 1, "once per set of credentials");
  });

  it("account.deleted: the app deletes the account through the accounts API", async () => {
    const { accountId, tokens } = await connectNew();
    const deleted = await fetch(`${broker.url}/v1/accounts/${accountId}`, { method: "DELETE", headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(deleted.status, 200);
    const { event } = await waitForEvent("account.deleted", accountId);
    assert.equal(event.data.connector, "gh");
    assert.equal(typeof event.data.upstream_revoked, "boolean");
  });

  it("account.needs_reauth: the upstream refuses the refresh token (invalid_grant), told once", async () => {
    const { accountId } = await connectNew();
    upstream.revokeAll();
    await assert.rejects(refreshAccount(broker.services, accountId, { force: true }), AccountNeedsReauth);
    const { event } = await waitForEvent("account.needs_reauth", accountId);
    assert.equal(event.data.reason, "invalid_grant");
    await assert.rejects(refreshAccount(broker.services, accountId, { force: true }), AccountNeedsReauth);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(eventsOf("account.needs_reauth", accountId).length, 1);
  });

  it("retries with exponential backoff after the receiver answers 500, then delivers; the log says so", async () => {
    receiver.failNext(2, 500);
    const { accountId } = await connectNew();
    await waitForEvent("account.connected", accountId);
    const attempts = receiver.received.filter((h) => h.body.includes(accountId) && h.body.includes('"account.connected"'));
    assert.deepEqual(
      attempts.map((a) => a.status),
      [500, 500, 204],
    );
    assert.equal(new Set(attempts.map((a) => a.headers["webhook-id"])).size, 1, "one message id for every attempt");
    const [first, second, third] = attempts.map((a) => a.at);
    assert.ok(second! - first! >= 180, `first retry after ${second! - first!} ms`);
    assert.ok(third! - second! >= 380, `second retry after ${third! - second!} ms, twice the first`);

    const id = String(attempts[0]!.headers["webhook-id"]);
    // The receiver has the 204 before the worker has written it down: the log is read once it has.
    const logged = await until("the delivery logged as delivered", async () => {
      const row = (await (await admin("GET", `/admin/v1/webhooks/deliveries/${id}`)).json()) as Record<string, unknown>;
      return row.status === "delivered" ? row : undefined;
    });
    assert.equal(logged.attempts, 3);
    assert.equal(logged.last_response_status, 204);
    assert.equal(logged.event_type, "account.connected");
    assert.equal((logged.payload as EventPayload).data.account_id, accountId);
  });

  it("a delivery that fails every attempt is logged failed, and a redelivery sends the same message again", async () => {
    receiver.failAlways(503);
    const { accountId } = await connectNew();
    const list = async () =>
      (
        (await (await admin("GET", `/admin/v1/webhooks/deliveries?app_id=${app.id}&event_type=account.connected`)).json()) as {
          data: Record<string, unknown>[];
        }
      ).data;
    const failed = await until("the failed delivery", async () => (await list()).find((d) => d.account_id === accountId && d.status === "failed"));
    assert.equal(failed.attempts, 4);
    assert.equal(failed.last_response_status, 503);
    assert.equal(failed.last_error, "the receiver answered HTTP 503");

    receiver.failNext(0);
    const redelivered = await admin("POST", `/admin/v1/webhooks/deliveries/${String(failed.id)}/redeliver`);
    assert.equal(redelivered.status, 202);
    const { hook } = await waitForEvent("account.connected", accountId);
    assert.equal(hook.headers["webhook-id"], failed.id, "the same webhook-id: the receiver can deduplicate");
    const logged = await until("delivered", async () => (await list()).find((d) => d.id === failed.id && d.status === "delivered"));
    assert.equal(logged.redeliveries, 1);
    assert.equal(logged.attempts, 5);
  });

  it("a delivery whose job never reached Redis is sent by the reconciler, once", async () => {
    const body = JSON.stringify({ type: "account.connected", timestamp: new Date().toISOString(), data: { account_id: "acc_lost" } });
    const old = new Date(Date.now() - 5 * 60_000);
    // As after a crash between the commit and the enqueue.
    await broker.services.db.webhookDelivery.create({
      data: { id: "msg_lost", appId: app.id, eventType: "account.connected", accountId: "acc_lost", body, createdAt: old, updatedAt: old },
    });
    assert.equal(await enqueueLostDeliveries(broker.services), 1);
    const sent = await until("the lost delivery", async () => receiver.received.find((h) => h.headers["webhook-id"] === "msg_lost"));
    assert.deepEqual(new Webhook(webhookSecret).verify(sent.body, sent.headers as Record<string, string>), JSON.parse(body));
    await until(
      "logged delivered",
      async () => (await broker.services.db.webhookDelivery.findUniqueOrThrow({ where: { id: "msg_lost" } })).status === "delivered",
    );
    assert.equal(await enqueueLostDeliveries(broker.services), 0, "nothing twice");
  });

  it("refuses what it cannot do, with a clear error", async () => {
    assert.equal((await admin("POST", "/admin/v1/webhooks/deliveries/msg_nothing/redeliver")).status, 404);
    assert.equal((await admin("GET", "/admin/v1/webhooks/deliveries/msg_nothing")).status, 404);
    const badStatus = await admin("GET", "/admin/v1/webhooks/deliveries?status=lost");
    assert.equal(badStatus.status, 400);
    assert.equal(((await badStatus.json()) as { error: string }).error, "validation_failed");
    // A delivery still being attempted is not sent twice at once.
    receiver.failAlways(500);
    const { accountId } = await connectNew();
    const pending = await until("a pending delivery", async () =>
      broker.services.db.webhookDelivery.findFirst({ where: { accountId, status: "pending" } }).then((d) => d ?? undefined),
    );
    const busy = await admin("POST", `/admin/v1/webhooks/deliveries/${pending.id}/redeliver`);
    assert.equal(busy.status, 409);
    assert.match(((await busy.json()) as { error_description: string }).error_description, /still being attempted/);
    receiver.failNext(0);
  });

  it("refuses a webhook URL the broker must not call, at registration", async () => {
    for (const [url, reason] of [
      ["not a url", /is not an absolute URL/],
      ["ftp://hooks.example.com/x", /must use https/],
      ["http://hooks.example.com/x", /must use https/],
      ["https://10.1.2.3/hooks", /private or reserved address/],
      ["https://user:pass@hooks.example.com/x", /user name or password/],
      ["https://hooks.example.com/x#frag", /fragment/],
    ] as const) {
      const res = await admin("POST", "/admin/v1/apps", { name: "Bad hook", redirect_uris: [TEST_APP_REDIRECT], webhook_url: url });
      assert.equal(res.status, 400, url);
      const body = (await res.json()) as { error: string; error_description: string };
      assert.equal(body.error, "validation_failed");
      assert.match(body.error_description, reason, url);
    }
    const ok = await admin("POST", "/admin/v1/apps", { name: "Good hook", redirect_uris: [TEST_APP_REDIRECT], webhook_url: "https://hooks.example.com/x" });
    assert.equal(ok.status, 201);
    // Later, through PUT /admin/v1/apps/{id}/webhook: the same rules.
    const { client_id: id } = (await ok.json()) as { client_id: string };
    const bad = await admin("PUT", `/admin/v1/apps/${id}/webhook`, { url: "http://hooks.example.com/x" });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error_description: string }).error_description, /must use https/);
    assert.equal((await admin("PUT", "/admin/v1/apps/app_nothing/webhook", { url: "https://hooks.example.com/x" })).status, 404);
    const moved = await admin("PUT", `/admin/v1/apps/${id}/webhook`, { url: "https://hooks.example.com/y" });
    assert.equal(moved.status, 200);
    assert.deepEqual(await moved.json(), { client_id: id, webhook_url: "https://hooks.example.com/y" });
  });

  it("does not send to a URL registered before the rules refused it (plain http to the internet)", async () => {
    const { client: legacy } = await broker.services.clients.create(
      { name: "Legacy hook", redirectUris: [TEST_APP_REDIRECT], webhookUrl: "https://hooks.example.com/x" },
      broker.services.keyring,
    );
    await broker.services.db.app.update({ where: { id: legacy.id }, data: { webhookUrl: "http://hooks.example.com/x" } });
    await broker.services.db.webhookDelivery.create({ data: { id: "msg_legacy", appId: legacy.id, eventType: "account.connected", body: "{}" } });
    await broker.services.queues.enqueueWebhook("msg_legacy");
    const row = await until("refused", async () => {
      const d = await broker.services.db.webhookDelivery.findUniqueOrThrow({ where: { id: "msg_legacy" } });
      return d.status === "failed" ? d : undefined;
    });
    assert.equal(row.attempts, 0, "nothing was sent");
    assert.match(row.lastError!, /must use https/);
  });

  it("writes no secret and no signature in any log line", () => {
    const logs = broker.services.logs.text;
    assert.ok(logs.length > 0);
    assert.ok(!logs.includes(webhookSecret.slice(6)), "the webhook secret");
    for (const hook of receiver.received) assert.ok(!logs.includes(String(hook.headers["webhook-signature"]).slice(3)), "a signature");
  });
});
