/**
 * The admin API (issue 8): authenticated by BROKER_ADMIN_TOKEN or an app's
 * client-credentials token with scope admin; every operation validated by the
 * zod schemas its OpenAPI document is generated from.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import type { TestBroker } from "../../support/broker.js";
import type { OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { connectTestAccount, registerTestApp, type TestApp, startBrokerWithGitHubLike } from "../../support/flow.js";

const ADMIN_TOKEN = "admin-token-for-tests-0123456789abcdef";

describe("admin API", () => {
  let setup: Awaited<ReturnType<typeof startBrokerWithGitHubLike>>;
  let broker: TestBroker;
  let upstream: OAuth2Upstream;
  let app: TestApp;

  before(async () => {
    // A GitLab-like connector too: its token endpoint is on each end user's server, registered one by one.
    const forge = {
      id: "forge",
      name: "Forge",
      auth: { kind: "oauth2", authorizationUrl: "https://{hostname}/oauth/authorize", tokenUrl: "https://{hostname}/oauth/token" },
      hostname: {},
      identity: { url: "https://{hostname}/api/v4/user", subject: "id" },
    };
    setup = await startBrokerWithGitHubLike({ env: { BROKER_ADMIN_TOKEN: ADMIN_TOKEN }, otherConnectors: { "forge.json": forge } });
    ({ broker, upstream } = setup);
    app = await registerTestApp(broker, ["openid", "proxy", "offline_access", "admin"]);
  });

  after(async () => {
    await setup?.stop();
  });

  const admin = (path: string, init: RequestInit = {}, token = ADMIN_TOKEN) =>
    fetch(`${broker.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, ...(init.body ? { "content-type": "application/json" } : {}), ...(init.headers as Record<string, string>) },
    });

  it("refuses requests without admin credentials, with a wrong token, or with a token lacking scope admin", async () => {
    const none = await fetch(`${broker.url}/admin/v1/apps`);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { error: string }).error, "unauthorized");
    assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="authbroker-admin"', "the JSON API asks for a bearer token");
    assert.equal((await admin("/admin/v1/apps", {}, "wrong-token")).status, 401);
    const proxyToken = (await client.clientCredentialsGrant(app.config, { scope: "proxy" })).access_token;
    assert.equal((await admin("/admin/v1/apps", {}, proxyToken)).status, 403);
    assert.equal((await fetch(`${broker.url}/metrics`)).status, 401);
    for (const authorization of [undefined, `Basic ${Buffer.from("admin:wrong").toString("base64")}`, "Bearer wrong-token"]) {
      const queues = await fetch(`${broker.url}/admin/queues`, { headers: authorization ? { authorization } : {} });
      assert.equal(queues.status, 401);
      // A lone Basic challenge: a browser prompts for it (it ignores one that offers Bearer too).
      assert.equal(queues.headers.get("www-authenticate"), 'Basic realm="authbroker-admin", charset="UTF-8"', authorization);
    }
  });

  it("an app's client-credentials token with scope admin is accepted", async () => {
    const token = (await client.clientCredentialsGrant(app.config, { scope: "admin" })).access_token;
    const res = await admin("/admin/v1/apps", {}, token);
    assert.equal(res.status, 200);
  });

  it("creates an app, returns its secret once, lists and deletes it; never shows hashes", async () => {
    const res = await admin("/admin/v1/apps", { method: "POST", body: JSON.stringify({ name: "Made by admin", redirect_uris: ["https://app.example/cb"] }) });
    assert.equal(res.status, 201);
    const created = (await res.json()) as { client_id: string; client_secret: string };
    assert.match(created.client_secret, /^abs_/);
    const list = await (await admin("/admin/v1/apps")).text();
    assert.ok(list.includes(created.client_id));
    assert.ok(!list.includes(created.client_secret) && !list.includes("secretHash") && !/[0-9a-f]{64}/.test(list), "no secret or hash in the listing");
    assert.equal((await admin(`/admin/v1/apps/${created.client_id}`, { method: "DELETE" })).status, 200);
    assert.equal((await admin(`/admin/v1/apps/${created.client_id}`)).status, 404);
  });

  it("a client's X-Request-Id never becomes the broker's: the response and the audit row carry a broker-made id, the log line the client's beside it", async () => {
    const res = await admin("/admin/v1/apps", {
      method: "POST",
      body: JSON.stringify({ name: "Traced", redirect_uris: ["https://app.example/cb"] }),
      headers: { "x-request-id": "trace-admin-1" },
    });
    assert.equal(res.status, 201);
    const requestId = res.headers.get("x-request-id") ?? "";
    assert.match(requestId, /^[0-9a-f-]{36}$/);
    const { client_id } = (await res.json()) as { client_id: string };
    const event = await broker.services.db.auditEvent.findFirstOrThrow({ where: { action: "app.created", appId: client_id } });
    assert.equal(event.requestId, requestId);
    const line = broker.services.logs.lines.find((l) => (l.req as { id?: string } | undefined)?.id === requestId && l.msg === "request completed");
    assert.equal((line?.req as { clientRequestId?: string } | undefined)?.clientRequestId, "trace-admin-1");
    const again = await admin("/admin/v1/apps", { headers: { "x-request-id": "trace-admin-1" } });
    assert.notEqual(again.headers.get("x-request-id"), requestId, "two requests never share an id");
    const invalid = await admin("/admin/v1/apps", { headers: { "x-request-id": "x".repeat(129) } });
    const invalidLine = broker.services.logs.lines.find(
      (l) => (l.req as { id?: string } | undefined)?.id === invalid.headers.get("x-request-id") && l.msg === "request completed",
    );
    assert.ok(invalidLine);
    assert.equal((invalidLine.req as { clientRequestId?: string }).clientRequestId, undefined, "an id that is not well-formed is dropped");
  });

  it("rejects invalid input with validation_failed naming the field", async () => {
    const bad = await admin("/admin/v1/apps", { method: "POST", body: JSON.stringify({ name: "", redirect_uris: "nope" }) });
    assert.equal(bad.status, 400);
    const body = (await bad.json()) as { error: string; error_description: string };
    assert.equal(body.error, "validation_failed");
    assert.match(body.error_description, /body\.(name|redirect_uris)/);
    const notJson = await admin("/admin/v1/apps", { method: "POST", body: "name=x", headers: { "content-type": "application/x-www-form-urlencoded" } });
    assert.equal(notJson.status, 400);
    const broken = await admin("/admin/v1/apps", { method: "POST", body: "{not json", headers: { "content-type": "application/json" } });
    assert.equal(broken.status, 400);
    assert.equal((await admin("/admin/v1/audit-events?limit=0")).status, 400);
    assert.equal((await admin("/admin/v1/audit-events?cursor=abc")).status, 400);
  });

  it("lists connectors with their configuration status and stores credentials sealed", async () => {
    const list = (await (await admin("/admin/v1/connectors")).json()) as { data: { id: string; configured: boolean; callback_url: string }[] };
    assert.deepEqual(
      list.data.map((c) => c.id),
      ["forge", "gh"],
    );
    assert.equal(list.data.find((c) => c.id === "gh")?.callback_url, `${broker.url}/connect/callback/gh`, "the redirect URI to register upstream");
    const res = await admin("/admin/v1/connectors/gh/credentials", {
      method: "PUT",
      body: JSON.stringify({ client_id: "other", client_secret: "stored-secret-value-xyz" }),
    });
    assert.equal(res.status, 200);
    const dump = JSON.stringify(await broker.services.db.connectorCredential.findMany());
    assert.ok(!dump.includes("stored-secret-value-xyz"), "the secret is sealed");
    assert.equal((await admin("/admin/v1/connectors/nope/credentials", { method: "PUT", body: JSON.stringify({ client_id: "x" }) })).status, 404);
    await broker.services.db.connectorCredential.deleteMany();
  });

  it("registers one server of a per-server connector, and lists the connector's servers and callback", async () => {
    const listed = async () =>
      (
        (await (await admin("/admin/v1/connectors")).json()) as { data: { id: string; configured: boolean; servers?: string[]; callback_url: string }[] }
      ).data.find((c) => c.id === "forge")!;
    assert.deepEqual([(await listed()).configured, (await listed()).servers], [false, []]);
    const res = await admin("/admin/v1/connectors/forge/credentials", {
      method: "PUT",
      body: JSON.stringify({ hostname: "Git.Example.com", client_id: "forge-at-git", client_secret: "forge-secret-value-xyz" }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { connector: "forge", app_id: null, hostname: "git.example.com", created: true });
    const forge = await listed();
    assert.deepEqual([forge.configured, forge.servers, forge.callback_url], [true, ["git.example.com"], `${broker.url}/connect/callback/forge/{hostname}`]);
    // A connector-wide connector has no servers; a path is not a server.
    for (const [connector, hostname] of [
      ["gh", "git.example.com"],
      ["forge", "git.example.com/x"],
    ]) {
      const refused = await admin(`/admin/v1/connectors/${connector}/credentials`, {
        method: "PUT",
        body: JSON.stringify({ hostname, client_id: "x", client_secret: "y" }),
      });
      assert.equal(refused.status, 400, `${connector} ${hostname}`);
      assert.equal(((await refused.json()) as { error: string }).error, "validation_failed");
    }
    await broker.services.db.connectorCredential.deleteMany();
  });

  it("lists, refreshes, revokes and deletes accounts, and records it all in the audit log", async () => {
    upstream.setUser({ id: 31, login: "adm1", email: "adm1@example.test", name: "Adm" });
    const { accountId } = await connectTestAccount(app, "gh");
    const list = (await (await admin(`/admin/v1/accounts?app_id=${app.id}&limit=1`)).json()) as { data: { id: string }[]; next_cursor: string | null };
    assert.equal(list.data.length, 1);
    const refreshed = (await (await admin(`/admin/v1/accounts/${accountId}/refresh`, { method: "POST" })).json()) as { outcome: string };
    assert.equal(refreshed.outcome, "refreshed");
    const revoked = await admin(`/admin/v1/accounts/${accountId}/revoke`, { method: "POST" });
    assert.equal(revoked.status, 200);
    const account = (await (await admin(`/admin/v1/accounts/${accountId}`)).json()) as { status: string };
    assert.equal(account.status, "revoked");
    assert.equal((await admin(`/admin/v1/accounts/${accountId}`, { method: "DELETE" })).status, 200);
    assert.equal((await admin(`/admin/v1/accounts/${accountId}`)).status, 404);
    const events = (await (await admin(`/admin/v1/audit-events?account_id=${accountId}`)).json()) as { data: { action: string }[] };
    const actions = events.data.map((e) => e.action);
    for (const action of ["account.connected", "account.refresh_requested", "account.revoked", "account.deleted"]) assert.ok(actions.includes(action), action);
    const paged = (await (await admin(`/admin/v1/audit-events?account_id=${accountId}&limit=2`)).json()) as { data: { id: string }[]; next_cursor: string };
    const next = (await (await admin(`/admin/v1/audit-events?account_id=${accountId}&limit=2&cursor=${paged.next_cursor}`)).json()) as {
      data: { id: string }[];
    };
    assert.ok(
      next.data.every((e) => BigInt(e.id) < BigInt(paged.next_cursor)),
      "the next page is older",
    );
  });

  it("lists audit events newest first by each filter and by time range, page after page", async () => {
    // Rows of their own (an app id no other test uses), at known times an hour apart, oldest first.
    const appId = `audit-filters-${Date.now()}`;
    const hour = 3_600_000;
    const start = Date.UTC(2026, 0, 1);
    const actions = ["proxy.request", "token.issued", "proxy.request", "account.connected", "proxy.request"];
    for (const [i, action] of actions.entries())
      await broker.services.db.auditEvent.create({
        data: { at: new Date(start + i * hour), action, actorType: "app", appId, accountId: `${appId}-acct-${i % 2}`, connectorId: i === 4 ? "forge" : "gh" },
      });
    type Page = { data: { id: string; at: string; action: string; account_id: string; connector: string }[]; next_cursor: string | null };
    const list = async (query: string) => (await (await admin(`/admin/v1/audit-events?app_id=${appId}&${query}`)).json()) as Page;

    const all = await list("");
    assert.deepEqual(
      all.data.map((e) => e.action),
      [...actions].reverse(),
      "newest first",
    );
    assert.deepEqual(
      (await list("action=proxy.request")).data.map((e) => e.at),
      [4, 2, 0].map((i) => new Date(start + i * hour).toISOString()),
    );
    assert.deepEqual(
      (await list(`account_id=${appId}-acct-1`)).data.map((e) => e.action),
      ["account.connected", "token.issued"],
    );
    assert.deepEqual(
      (await list("connector=forge")).data.map((e) => e.at),
      [new Date(start + 4 * hour).toISOString()],
    );
    // since is inclusive, until exclusive.
    const window = await list(`since=${new Date(start + hour).toISOString()}&until=${new Date(start + 3 * hour).toISOString()}`);
    assert.deepEqual(
      window.data.map((e) => e.action),
      ["proxy.request", "token.issued"],
    );
    const first = await list("limit=2");
    assert.equal(first.next_cursor, first.data[1]!.id);
    const second = await list(`limit=2&cursor=${first.next_cursor}`);
    const third = await list(`limit=2&cursor=${second.next_cursor}`);
    assert.deepEqual(
      [...first.data, ...second.data, ...third.data].map((e) => e.id),
      all.data.map((e) => e.id),
    );
    assert.equal(third.next_cursor, null, "the last page says so");
  });

  it("rotates keys: a new signing key, and the previous one stays in the JWKS", async () => {
    const before = (await (await fetch(`${broker.url}/oauth/jwks`)).json()) as { keys: { kid: string }[] };
    const res = (await (await admin("/admin/v1/keys/rotate", { method: "POST" })).json()) as { signing_kid: string; previous_signing_kid: string };
    assert.ok(before.keys.some((k) => k.kid === res.previous_signing_kid));
    const jwks = await broker.services.signingKeys.jwks();
    assert.ok(jwks.keys.some((k) => k.kid === res.signing_kid) && jwks.keys.some((k) => k.kid === res.previous_signing_kid));
  });

  it("serves an OpenAPI 3.1 document generated from the same schemas", async () => {
    const doc = (await (await admin("/admin/v1/openapi.json")).json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown>; required: string[] } }> } }>
      >;
    };
    assert.equal(doc.openapi, "3.1.0");
    for (const path of [
      "/admin/v1/apps",
      "/admin/v1/accounts/{id}/refresh",
      "/admin/v1/audit-events",
      "/admin/v1/keys/rotate",
      "/admin/v1/connectors/{id}/credentials",
    ])
      assert.ok(doc.paths[path], path);
    const create = doc.paths["/admin/v1/apps"]!.post!.requestBody!.content["application/json"]!.schema;
    assert.ok(create.properties.redirect_uris && create.required.includes("name"));
  });

  it("serves Prometheus metrics and the queue dashboard to the admin", async () => {
    const metrics = await admin("/metrics");
    assert.equal(metrics.status, 200);
    const text = await metrics.text();
    assert.match(text, /authbroker_refresh_total|authbroker_queue_jobs/);
    const basic = Buffer.from(`admin:${ADMIN_TOKEN}`).toString("base64");
    const board = await fetch(`${broker.url}/admin/queues`, { headers: { authorization: `Basic ${basic}` } });
    assert.equal(board.status, 200);
    assert.match(await board.text(), /<html/i);
  });
});
