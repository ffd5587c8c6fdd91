/**
 * The proxy's audit log (issue 7): calls are recorded without the call
 * waiting for Postgres, written in batches shortly after, with a path
 * template instead of the path and never the query; the queue is bounded.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ProxyAuditLog, PROXY_AUDIT_ACTION, type ProxyAuditEvent } from "../../../src/proxy/audit.js";
import { createTestServices, type TestServices } from "../../support/services.js";
import { createDb, sqlRows } from "../../../src/db.js";
import { pathTemplate } from "../../../src/proxy/path-template.js";
import { METHODS } from "node:http";

describe("proxy audit events", () => {
  let services: TestServices;
  let appId: string;

  before(async () => {
    services = await createTestServices();
    appId = (await services.clients.create({ name: "Audited", redirectUris: [], grantTypes: ["client_credentials"], scopes: ["proxy"] })).client.id;
  });

  after(async () => {
    await services?.teardown();
  });

  const event = (requestId: string, overrides: Partial<ProxyAuditEvent> = {}): ProxyAuditEvent => ({
    at: Date.now(),
    appId,
    accountId: "acc_audited",
    connectorId: "acme",
    requestId,
    method: "GET",
    pathAndQuery: "/repos/42/issues?api_key=sk_secret&q=private",
    status: 200,
    retried: false,
    ...overrides,
  });

  const stored = (requestIds: string[]) =>
    services.db.auditEvent.findMany({ where: { action: PROXY_AUDIT_ACTION, requestId: { in: requestIds } }, orderBy: { id: "asc" } });

  it("recording returns at once; the batch is written within the flush interval", async () => {
    const audit = new ProxyAuditLog(services.db, services.log, { flushMs: 1_500, batchEvents: 100, bufferLimit: 100 });
    const ids = ["batch-1", "batch-2", "batch-3"];
    const calledAt = Date.now();
    for (const id of ids) assert.equal(audit.record(event(id)), undefined, "record is synchronous");
    assert.equal((await stored(ids)).length, 0, "nothing written while the call runs");
    const deadline = Date.now() + 8000;
    while ((await stored(ids)).length < ids.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
    const rows = await stored(ids);
    assert.equal(rows.length, 3);
    for (const row of rows) {
      assert.equal(row.actorType, "app");
      assert.equal(row.actorId, appId);
      assert.equal(row.appId, appId);
      assert.equal(row.accountId, "acc_audited");
      assert.equal(row.connectorId, "acme");
      assert.deepEqual(row.detail, { method: "GET", path: "/repos/{id}/issues", status: 200, retried: false });
      assert.ok(Math.abs(row.at.getTime() - calledAt) < 1000, "at is when the call was made");
      assert.ok(!JSON.stringify(row.detail).includes("sk_secret"));
    }
  });

  it("values holding tabs, newlines, backslashes or NUL are written as they are (NUL as U+FFFD), and a delegation with its user and actors", async () => {
    const audit = new ProxyAuditLog(services.db, services.log, { flushMs: 60_000, batchEvents: 100, bufferLimit: 100 });
    audit.record(
      event("odd-1", { connectorId: "tab\tnew\nline\\back", delegation: { user: "user\0nul\r", act: { sub: "agent\\one", act: { sub: "app\ttwo" } } } }),
    );
    audit.record(event("odd-2", { delegation: { user: undefined, act: { sub: "agent" } } }));
    audit.record(event("odd-3"));
    await audit.flush();
    const [odd, noUser, plain] = await stored(["odd-1", "odd-2", "odd-3"]);
    assert.equal(odd!.connectorId, "tab\tnew\nline\\back");
    assert.deepEqual(odd!.detail, {
      method: "GET",
      path: "/repos/{id}/issues",
      status: 200,
      retried: false,
      user: "user\uFFFDnul\r",
      act: { sub: "agent\\one", act: { sub: "app\ttwo" } },
    });
    assert.deepEqual(noUser!.detail, { method: "GET", path: "/repos/{id}/issues", status: 200, retried: false, user: null, act: { sub: "agent" } });
    assert.deepEqual(plain!.detail, { method: "GET", path: "/repos/{id}/issues", status: 200, retried: false }, "no delegation, no user or act");
  });

  it("a row's detail is the JSON of its method, path template, status and retry, whatever the method", async () => {
    const audit = new ProxyAuditLog(services.db, services.log, { flushMs: 60_000, batchEvents: 100, bufferLimit: 100 });
    const longPath = '/files/say"hi"/v2/items/more/and-more?q=1';
    assert.equal(pathTemplate(longPath), "/files/{id}/v2/items/…");
    audit.record(event("path-1", { method: "PATCH", pathAndQuery: longPath, status: 404, retried: true }));
    audit.record(event("path-2", { method: 'BREW"\t\0', pathAndQuery: "/pots/1" }));
    await audit.flush();
    const [patch, brew] = await stored(["path-1", "path-2"]);
    assert.deepEqual(patch!.detail, { method: "PATCH", path: "/files/{id}/v2/items/…", status: 404, retried: true });
    assert.deepEqual(brew!.detail, { method: 'BREW"\t\uFFFD', path: "/pots/{id}", status: 200, retried: false });
    // Node's own methods are written without JSON.stringify: none holds a character JSON or COPY would escape.
    for (const method of METHODS) assert.match(method, /^[A-Z-]+$/);
  });

  it("writes `at` as the call's time in UTC whatever time zone PostgreSQL's sessions run in", async () => {
    const own = await createTestServices();
    // New connections to this database take its time zone; the audit's own pool is made after.
    await own.db.$executeRawUnsafe(`ALTER DATABASE "${new URL(own.database.url).pathname.slice(1)}" SET timezone TO 'America/New_York'`);
    const db = createDb(own.database.url);
    try {
      const [zone] = await sqlRows<{ TimeZone: string }>(db, { name: "test-show-timezone", text: "SHOW timezone" }, []);
      assert.equal(zone!.TimeZone, "America/New_York");
      const audit = new ProxyAuditLog(db, own.log, { flushMs: 60_000, batchEvents: 100, bufferLimit: 100 });
      audit.record(event("zoned-1", { at: Date.UTC(2026, 11, 7, 20, 0, 0, 123) }));
      await audit.flush();
      const row = await own.db.auditEvent.findFirstOrThrow({ where: { requestId: "zoned-1" } });
      assert.equal(row.at.toISOString(), "2026-12-07T20:00:00.123Z");
    } finally {
      await db.$disconnect();
      await own.teardown();
    }
  });

  const waitFor = async (what: string, done: () => Promise<boolean> | boolean) => {
    const deadline = Date.now() + 8000;
    while (!(await done())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };

  it("a batch is written as soon as batchEvents wait, long before the flush interval", async () => {
    const audit = new ProxyAuditLog(services.db, services.log, { flushMs: 60_000, batchEvents: 3, bufferLimit: 100 });
    const ids = ["early-1", "early-2", "early-3"];
    audit.record(event(ids[0]!));
    audit.record(event(ids[1]!));
    assert.equal((await stored(ids)).length, 0, "two events wait for a third or for the interval");
    audit.record(event(ids[2]!));
    await waitFor("the batch of three", async () => (await stored(ids)).length === 3);
  });

  it("after a failed write, full batches wait for the retry instead of asking Postgres on every call", async () => {
    const own = await createTestServices();
    try {
      const ownApp = (await own.clients.create({ name: "Down", redirectUris: [], grantTypes: ["client_credentials"], scopes: ["proxy"] })).client.id;
      const audit = new ProxyAuditLog(own.db, own.log, { flushMs: 60_000, batchEvents: 2, bufferLimit: 100 });
      const failures = () => own.logs.lines.filter((line) => line.msg === "proxy audit events not written yet").length;
      // Every INSERT fails while the table is away: a real failure of Postgres, not a stand-in.
      await own.db.$executeRawUnsafe(`ALTER TABLE "AuditEvent" RENAME TO "AuditEventAway"`);
      const ids = Array.from({ length: 12 }, (_, i) => `backoff-${i}`);
      audit.record(event(ids[0]!, { appId: ownApp }));
      audit.record(event(ids[1]!, { appId: ownApp }));
      await waitFor("the first failed write", () => failures() === 1);
      for (const id of ids.slice(2)) audit.record(event(id, { appId: ownApp }));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(failures(), 1, "ten more events, five full batches: no write until the retry");
      await own.db.$executeRawUnsafe(`ALTER TABLE "AuditEventAway" RENAME TO "AuditEvent"`);
      await audit.flush();
      const rows = await own.db.auditEvent.findMany({ where: { action: PROXY_AUDIT_ACTION, requestId: { in: ids } } });
      assert.equal(rows.length, ids.length, "nothing lost: the failed batch went back in the queue");
    } finally {
      await own.teardown();
    }
  });

  it("a full queue drops its oldest events and says how many", async () => {
    const audit = new ProxyAuditLog(services.db, services.log, { flushMs: 60_000, batchEvents: 100, bufferLimit: 2 });
    audit.record(event("bounded-1"));
    audit.record(event("bounded-2"));
    audit.record(event("bounded-3", { connectorId: undefined, status: 499 }));
    await audit.flush();
    const rows = await stored(["bounded-1", "bounded-2", "bounded-3"]);
    assert.deepEqual(
      rows.map((r) => r.requestId),
      ["bounded-2", "bounded-3"],
    );
    assert.equal(rows[1]!.connectorId, null);
    assert.equal((rows[1]!.detail as { status: number }).status, 499);
    assert.ok(services.logs.lines.some((line) => line.msg === "proxy audit events dropped: the queue was full" && line.dropped === 1));
  });
});
