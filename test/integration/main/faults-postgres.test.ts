/**
 * PostgreSQL going away under traffic (issue 9). The broker reaches its
 * database through a TCP proxy this test cuts and restores (the shared
 * PostgreSQL server keeps running for the other test files). While it is
 * cut, every request that needs the database fails fast with 503,
 * `Retry-After` and a JSON error; none hangs and none is a 500. Once it is
 * back, the same broker process serves again without a restart.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startTestBroker, type TestBroker } from "../../support/broker.js";
import { createTestDatabase, type TestDatabase } from "../../support/db.js";
import { startTcpProxy, type TcpProxy } from "../../support/tcp-proxy.js";
import { basic, send, type ReceivedResponse } from "../../support/raw-http.js";
import { accountToken, storeTestAccount } from "../../support/api-upstream.js";

const ADMIN_TOKEN = "faults-admin-token-0123456789abcdef0123456789";

interface Answer {
  probe: string;
  phase: "before" | "down" | "after";
  at: number;
  status: number;
  elapsedMs: number;
  retryAfter: string | undefined;
  error: string | undefined;
}

describe("PostgreSQL unreachable during traffic", () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let broker: TestBroker;
  let app: { id: string; secret: string };
  let appToken: string;
  let accountBoundToken: string;

  before(async () => {
    database = await createTestDatabase();
    proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(database.url).port || 5432) });
    const proxied = new URL(database.url);
    proxied.port = String(proxy.port);
    broker = await startTestBroker({
      env: { DATABASE_URL: proxied.href, BROKER_ADMIN_TOKEN: ADMIN_TOKEN },
      connectors: {
        "acme.json": {
          id: "acme",
          name: "Acme",
          auth: { kind: "api_key", fields: [{ name: "key", label: "API key", secret: true }] },
          api: { baseUrl: "http://127.0.0.1:9" },
          identity: { url: "http://127.0.0.1:9/me", subject: "id" },
        },
      },
    });
    const created = await broker.services.clients.create({
      name: "Faults",
      redirectUris: [],
      grantTypes: ["client_credentials"],
      scopes: ["proxy", "accounts:read"],
    });
    app = { id: created.client.id, secret: created.secret! };
    const accountId = await storeTestAccount(broker.services, { appId: app.id, connectorId: "acme", tokens: { fields: { key: "k" } } });
    accountBoundToken = await accountToken(broker.services, { appId: app.id, accountId, connectorId: "acme", scope: "accounts:read" });
    const issued = await send(broker.url, {
      path: "/oauth/token",
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(app.id, app.secret) },
      body: "grant_type=client_credentials&scope=accounts%3Aread",
    });
    assert.equal(issued.status, 200, issued.text);
    appToken = String(issued.json<{ access_token: string }>()!.access_token);
  });

  after(async () => {
    await proxy?.restore().catch(() => undefined);
    await broker?.stop();
    await proxy?.close();
    await database?.drop();
  });

  /** Requests that need the database, and one that may be served without it. */
  const probes: Record<string, () => Promise<ReceivedResponse>> = {
    accounts: () => send(broker.url, { path: "/v1/accounts", headers: { authorization: `Bearer ${appToken}` }, timeoutMs: 15_000 }),
    account: () => send(broker.url, { path: "/v1/accounts?limit=1", headers: { authorization: `Bearer ${accountBoundToken}` }, timeoutMs: 15_000 }),
    admin: () => send(broker.url, { path: "/admin/v1/apps", headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, timeoutMs: 15_000 }),
    token: () =>
      send(broker.url, {
        path: "/oauth/token",
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(app.id, app.secret) },
        body: "grant_type=client_credentials",
        timeoutMs: 15_000,
      }),
  };
  const needsDatabase = new Set(["accounts", "account", "admin"]);

  it("requests fail fast with 503 and Retry-After while it is cut, and succeed again once it is back, without a restart", async () => {
    const answers: Answer[] = [];
    let phase: Answer["phase"] = "before";
    let running = true;
    const started = Date.now();
    const loop = async (probe: string) => {
      while (running) {
        const at = Date.now() - started;
        const requestPhase = phase;
        const res = await probes[probe]!();
        answers.push({
          probe,
          phase: requestPhase,
          at,
          status: res.status,
          elapsedMs: res.elapsedMs,
          retryAfter: res.headers["retry-after"] as string | undefined,
          error: res.json<{ error?: string }>()?.error,
        });
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const loops = Object.keys(probes).flatMap((probe) => [loop(probe), loop(probe)]);

    await new Promise((r) => setTimeout(r, 1_500));
    phase = "down";
    const cutAt = Date.now() - started;
    await proxy.cut();
    await new Promise((r) => setTimeout(r, 4_000));
    const readyDown = await send(broker.url, { path: "/readyz" });
    phase = "after";
    const restoredAt = Date.now() - started;
    await proxy.restore();
    // Keep the traffic going until every database probe has succeeded twice in a row after the restore (at most 20 s).
    const deadline = Date.now() + 20_000;
    const recovered = () =>
      [...needsDatabase].every(
        (p) =>
          answers
            .filter((a) => a.probe === p && a.at > restoredAt)
            .slice(-2)
            .every((a) => a.status === 200) && answers.some((a) => a.probe === p && a.at > restoredAt && a.status === 200),
      );
    while (!recovered() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    running = false;
    await Promise.all(loops);

    const summary = (list: Answer[]) => [...new Set(list.map((a) => `${a.probe}:${a.status}`))].join(" ");
    // Answered before the cut (a request in flight at the cut may get either answer).
    const before = answers.filter((a) => a.phase === "before" && a.at + a.elapsedMs < cutAt);
    assert.ok(before.length > 8 && before.every((a) => a.status === 200), `before the cut every request succeeds: ${summary(before)}`);

    assert.deepEqual(
      answers.filter((a) => a.status >= 500 && a.status !== 503).map((a) => `${a.probe} ${a.status} at ${a.at} ms`),
      [],
      "no 500, ever",
    );

    // Requests sent well inside the outage (the first half second may still be served by a query already running).
    const down = answers.filter((a) => a.phase === "down" && a.at > cutAt + 500 && a.at + a.elapsedMs < restoredAt && needsDatabase.has(a.probe));
    assert.ok(down.length >= 6, `requests were made while the database was cut (${down.length})`);
    const odd = down.filter((a) => a.status !== 503);
    if (odd.length) console.log(`cut at ${cutAt} ms, restored at ${restoredAt} ms; unexpected: ${JSON.stringify(odd)}`);
    for (const a of down) {
      assert.equal(a.status, 503, `${a.probe} while cut: ${a.status} ${a.error}`);
      assert.equal(a.error, "service_unavailable");
      assert.match(String(a.retryAfter), /^\d+$/, "Retry-After");
      assert.ok(a.elapsedMs < 3_500, `${a.probe} failed fast (${Math.round(a.elapsedMs)} ms)`);
    }
    const tokenDown = answers.filter((a) => a.phase === "down" && a.probe === "token");
    assert.ok(
      tokenDown.every((a) => a.status === 200 || a.status === 503),
      `client_credentials while cut: ${summary(tokenDown)}`,
    );

    assert.equal(readyDown.status, 503, "/readyz reports the outage");
    assert.equal(readyDown.json<{ checks: { postgres: string } }>()!.checks.postgres, "unreachable");

    assert.ok(recovered(), `every database request succeeds again after the restore: ${summary(answers.filter((a) => a.at > restoredAt))}`);
    const firstOk = Math.min(...answers.filter((a) => a.at > restoredAt && needsDatabase.has(a.probe) && a.status === 200).map((a) => a.at));
    assert.ok(firstOk - restoredAt < 10_000, `recovered within 10 s (${firstOk - restoredAt} ms)`);
    assert.equal((await send(broker.url, { path: "/readyz" })).status, 200, "/readyz is 200 again");
    const durations = down.map((a) => a.elapsedMs).sort((x, y) => x - y);
    console.log(
      `postgres cut: ${down.length} requests answered 503 in ${Math.round(durations[0]!)}–${Math.round(durations.at(-1)!)} ms; first success ${firstOk - restoredAt} ms after the restore`,
    );
  });

  it("a database that goes silent (a partition: connections open, no byte through) costs a request at most the 10 s query timeout, then 503; traffic resumes when it heals", async () => {
    assert.equal((await probes.admin!()).status, 200, "a pooled connection exists before the partition");
    proxy.freeze();
    try {
      const during = await Promise.all([probes.admin!(), probes.accounts!(), probes.account!()]);
      for (const res of during) {
        assert.equal(res.status, 503, res.text);
        assert.equal(res.json<{ error: string }>()!.error, "service_unavailable");
        assert.ok(res.headers["retry-after"], "Retry-After");
        assert.ok(res.elapsedMs < 11_500, `answered in ${Math.round(res.elapsedMs)} ms, not left hanging`);
      }
      console.log(`postgres partition: answered 503 in ${during.map((r) => Math.round(r.elapsedMs)).join(", ")} ms`);
    } finally {
      await proxy.restore();
    }
    const deadline = Date.now() + 10_000;
    let again = await probes.admin!();
    while (again.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      again = await probes.admin!();
    }
    assert.equal(again.status, 200, "served again after the partition heals");
  });
});
