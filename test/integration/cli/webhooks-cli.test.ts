/**
 * The operator's webhook verbs: `apps create --webhook-url` (the secret
 * shown once, a bad URL refused in one line), `webhooks deliveries` (the
 * log) and `webhooks redeliver` (a new job for the same message).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestServices, randomKeyEntry, TEST_REDIS_URL, type TestServices } from "../../support/services.js";
import { webhookJobId } from "../../../src/jobs/queues.js";

const BIN = fileURLToPath(new URL("../../../bin/authbroker.js", import.meta.url));

describe("webhooks CLI", () => {
  let services: TestServices;
  let env: Record<string, string>;
  let appId: string;

  before(async () => {
    services = await createTestServices();
    env = {
      DATABASE_URL: services.database.url,
      REDIS_URL: TEST_REDIS_URL,
      BROKER_ENCRYPTION_KEYS: randomKeyEntry(),
      // The queue the test's services read: a redelivery must land there.
      BROKER_QUEUE_PREFIX: services.config.queuePrefix,
    };
  });

  after(async () => {
    await services?.queues.webhooks.obliterate({ force: true }).catch(() => undefined);
    await services?.teardown();
  });

  function cli(...args: string[]) {
    const cwd = mkdtempSync(join(tmpdir(), "authbroker-webhooks-"));
    mkdirSync(join(cwd, "connectors"));
    try {
      const result = spawnSync(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8", timeout: 60_000 });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  }

  const create = (...extra: string[]) => cli("apps", "create", "--name", "Hooked", "--redirect-uri", "https://app.example.com/cb", ...extra);

  it("apps create --webhook-url prints the whsec_ secret once, in Standard Webhooks' form", () => {
    const run = create("--webhook-url", "https://hooks.example.com/authbroker", "--json");
    assert.equal(run.status, 0, run.stderr);
    const app = JSON.parse(run.stdout) as { client_id: string; webhook_url: string; webhook_secret: string };
    assert.equal(app.webhook_url, "https://hooks.example.com/authbroker");
    assert.match(app.webhook_secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.match(run.stderr, /shown only now/);
    appId = app.client_id;
    const listed = cli("apps", "list", "--json");
    assert.ok(!listed.stdout.includes(app.webhook_secret), "never listed");
  });

  it("apps create refuses a webhook URL the broker must not call, in one line", () => {
    for (const [url, reason] of [
      ["http://hooks.example.com/x", /must use https/],
      ["https://192.168.1.10/x", /private or reserved address/],
      ["hooks", /not an absolute URL/],
    ] as const) {
      const run = create("--webhook-url", url);
      assert.equal(run.status, 2, url);
      assert.match(run.stderr, reason);
      assert.equal(run.stderr.trim().split("\n").length, 1, "one line");
    }
  });

  it("apps set-webhook changes the URL (keeping the secret), rotates the secret, removes both", () => {
    const { client_id: id } = JSON.parse(create("--json").stdout) as { client_id: string };
    const first = cli("apps", "set-webhook", id, "--url", "https://hooks.example.com/one", "--json");
    assert.equal(first.status, 0, first.stderr);
    const set = JSON.parse(first.stdout) as { webhook_url: string; webhook_secret?: string };
    assert.equal(set.webhook_url, "https://hooks.example.com/one");
    assert.match(set.webhook_secret!, /^whsec_/, "an app without a secret gets one, shown once");
    const moved = JSON.parse(cli("apps", "set-webhook", id, "--url", "https://hooks.example.com/two", "--json").stdout) as Record<string, unknown>;
    assert.deepEqual(moved, { client_id: id, webhook_url: "https://hooks.example.com/two" }, "the secret stays");
    const rotated = JSON.parse(cli("apps", "set-webhook", id, "--url", "https://hooks.example.com/two", "--rotate-secret", "--json").stdout) as {
      webhook_secret: string;
    };
    assert.match(rotated.webhook_secret, /^whsec_/);
    assert.notEqual(rotated.webhook_secret, set.webhook_secret);
    const removed = JSON.parse(cli("apps", "set-webhook", id, "--remove", "--json").stdout) as Record<string, unknown>;
    assert.deepEqual(removed, { client_id: id, webhook_url: null });

    const neither = cli("apps", "set-webhook", id);
    assert.equal(neither.status, 2);
    assert.match(neither.stderr, /give --url <url> or --remove/);
    const insecure = cli("apps", "set-webhook", id, "--url", "http://hooks.example.com/x");
    assert.equal(insecure.status, 2);
    assert.match(insecure.stderr, /must use https/);
    const unknown = cli("apps", "set-webhook", "app_nothing", "--url", "https://hooks.example.com/x");
    assert.equal(unknown.status, 3);
    assert.match(unknown.stderr, /app app_nothing does not exist/);
  });

  it("webhooks deliveries lists the log of an app, newest first; redeliver queues the same message again", async () => {
    const at = Date.now();
    for (const [i, status] of (["delivered", "failed", "pending"] as const).entries()) {
      await services.db.webhookDelivery.create({
        data: {
          id: `msg_cli${i}`,
          appId,
          eventType: "account.connected",
          accountId: `acc_${i}`,
          body: JSON.stringify({ type: "account.connected", timestamp: new Date(at).toISOString(), data: { account_id: `acc_${i}` } }),
          status,
          attempts: 1,
          createdAt: new Date(at + i * 1000),
        },
      });
    }
    const listed = cli("webhooks", "deliveries", "--app", appId, "--json");
    assert.equal(listed.status, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout) as { id: string; status: string; payload: { data: { account_id: string } } }[];
    assert.deepEqual(
      rows.map((r) => r.id),
      ["msg_cli2", "msg_cli1", "msg_cli0"],
    );
    assert.equal(rows[1]!.payload.data.account_id, "acc_1");
    const failedOnly = JSON.parse(cli("webhooks", "deliveries", "--app", appId, "--status", "failed", "--json").stdout) as { id: string }[];
    assert.deepEqual(
      failedOnly.map((r) => r.id),
      ["msg_cli1"],
    );

    const redelivered = cli("webhooks", "redeliver", "msg_cli1", "--json");
    assert.equal(redelivered.status, 0, redelivered.stderr);
    const view = JSON.parse(redelivered.stdout) as { status: string; redeliveries: number };
    assert.equal(view.status, "pending");
    assert.equal(view.redeliveries, 1);
    const job = await services.queues.webhooks.getJob(webhookJobId("msg_cli1", 1));
    assert.deepEqual(job?.data, { deliveryId: "msg_cli1" });
  });

  it("refuses what it cannot do, in one line with its exit code", () => {
    const unknown = cli("webhooks", "redeliver", "msg_nothing");
    assert.equal(unknown.status, 3);
    assert.match(unknown.stderr, /^authbroker: not_found: no webhook delivery msg_nothing\n$/);
    const busy = cli("webhooks", "redeliver", "msg_cli2");
    assert.equal(busy.status, 2);
    assert.match(busy.stderr, /^authbroker: conflict: webhook delivery msg_cli2 is still being attempted/);
    const badStatus = cli("webhooks", "deliveries", "--status", "lost");
    assert.equal(badStatus.status, 2);
    assert.match(badStatus.stderr, /--status must be one of pending, delivered, failed/);
    const badLimit = cli("webhooks", "deliveries", "--limit", "0");
    assert.equal(badLimit.status, 2);
  });
});
