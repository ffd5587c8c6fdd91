/** `authbroker accounts list|refresh|revoke|delete` against a real broker database. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import type { TestBroker } from "../../support/broker.js";
import type { OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { connectTestAccount, registerTestApp, type TestApp, startBrokerWithGitHubLike } from "../../support/flow.js";

describe("accounts CLI", () => {
  let setup: Awaited<ReturnType<typeof startBrokerWithGitHubLike>>;
  let broker: TestBroker;
  let upstream: OAuth2Upstream;
  let app: TestApp;

  before(async () => {
    setup = await startBrokerWithGitHubLike();
    ({ broker, upstream } = setup);
    app = await registerTestApp(broker);
  });

  after(async () => {
    await setup?.stop();
  });

  // Asynchronous: the upstream the CLI calls runs in this process and must keep answering.
  function cli(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const { config } = broker.services;
    const keys = config.encryptionKeys.map((k) => `${k.kid}:${Buffer.from(k.key).toString("base64")}`).join(",");
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ["bin/authbroker.js", ...args],
        {
          env: {
            ...process.env,
            DATABASE_URL: config.databaseUrl,
            REDIS_URL: config.redisUrl,
            BROKER_ENCRYPTION_KEYS: keys,
            CONNECTORS_DIR: config.connectorsDir,
            BROKER_QUEUE_PREFIX: config.queuePrefix,
            BROKER_ALLOW_PRIVATE_HOSTS: "127.0.0.0/8",
            BROKER_ISSUER: config.issuer,
          },
        },
        (err, stdout, stderr) => resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  it("lists accounts as JSON without credentials, and filters by app", async () => {
    upstream.setUser({ id: 51, login: "c1", email: "c1@example.test", name: "C1" });
    const { accountId } = await connectTestAccount(app, "gh");
    const out = await cli("accounts", "list", "--app", app.id, "--json");
    assert.equal(out.status, 0, out.stderr);
    const list = JSON.parse(out.stdout) as { id: string }[];
    assert.ok(list.some((a) => a.id === accountId));
    for (const token of upstream.issuedAccessTokens()) assert.ok(!out.stdout.includes(token));
    assert.deepEqual(JSON.parse((await cli("accounts", "list", "--app", "app_none", "--json")).stdout), []);
  });

  it("refreshes one account, or all with a summary", async () => {
    upstream.setUser({ id: 52, login: "c2", email: "c2@example.test", name: "C2" });
    const { accountId } = await connectTestAccount(app, "gh");
    const one = await cli("accounts", "refresh", accountId, "--json");
    assert.equal(one.status, 0, one.stderr);
    assert.equal((JSON.parse(one.stdout) as { outcome: string }).outcome, "refreshed");
    const all = await cli("accounts", "refresh", "--all", "--json");
    assert.equal(all.status, 0, all.stderr);
    assert.ok((JSON.parse(all.stdout) as { refreshed: number }).refreshed >= 2);
  });

  it("revokes and deletes, with one clear line and exit 3 for an unknown account, exit 2 for bad usage", async () => {
    upstream.setUser({ id: 53, login: "c3", email: "c3@example.test", name: "C3" });
    const { accountId } = await connectTestAccount(app, "gh");
    assert.equal((await cli("accounts", "revoke", accountId)).status, 0);
    assert.equal((await broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } })).status, "revoked");
    assert.equal((await cli("accounts", "delete", accountId)).status, 0);
    assert.equal(await broker.services.db.account.count({ where: { id: accountId } }), 0);
    const missing = await cli("accounts", "revoke", "acc_missing");
    assert.equal(missing.status, 3);
    assert.equal(missing.stderr.trim().split("\n").length, 1);
    assert.equal((await cli("accounts", "refresh")).status, 2);
    assert.equal((await cli("accounts", "list", "--status", "weird")).status, 2);
  });
});
