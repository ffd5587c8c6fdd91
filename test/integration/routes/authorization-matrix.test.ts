/**
 * The authorization matrix: every route the broker serves × every kind of
 * caller, with the answer each cell must get, in one table. A route of the
 * route table (src/routes.ts) that has no row fails the test, so a new
 * endpoint cannot skip it. (What the table makes for every path without a
 * handler — preflights, 405 with Allow, 404 — is tested in
 * routes/route-table.test.ts.)
 *
 * Callers: no credential; a malformed one; expired, revoked (by
 * /oauth/revoke, by refresh token reuse, by deleting the account, by
 * deleting the app) access tokens; an ID token and a refresh token used as
 * bearer tokens; another app's token; a user token of account A, against A
 * and against account B of the same app; the app's client-credentials
 * token with and without the scope a route needs; an app's admin-scope
 * token; the operator's BROKER_ADMIN_TOKEN.
 *
 * A cell that is allowed to change something acts on a resource made for
 * it (a throwaway account or app); a cell that must be refused acts on the
 * real one, which is checked to be intact at the end.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import type { TestBroker } from "../../support/broker.js";
import { connectTestAccount, registerTestApp, startBrokerWithGitHubLike, TEST_APP_REDIRECT, type TestApp } from "../../support/flow.js";
import type { OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { routeKey } from "../../../src/http/route.js";
import { routeTable } from "../../../src/routes.js";
import { issueAccessToken } from "../../../src/oauth/tokens.js";
import { createRegistrationToken } from "../../../src/apps/registration-tokens.js";
import { createResource } from "../../../src/oauth/resources.js";

const ADMIN_TOKEN = "operator-admin-token-0123456789abcdef";
const USER_SCOPE = "openid email profile offline_access proxy accounts:read accounts:write";
const ALL_APP_SCOPES = ["openid", "email", "profile", "offline_access", "proxy", "accounts:read", "accounts:write", "tokens:read", "admin"];

const CALLERS = [
  "none",
  "malformed",
  "expired",
  "revokedByRevoke",
  "revokedByReuse",
  "revokedByAccountDeletion",
  "revokedByAppDeletion",
  "idToken",
  "refreshToken",
  "otherApp",
  "userA",
  "userAOnB",
  "ccScoped",
  "ccUnscoped",
  "adminScope",
  "operator",
] as const;
type CallerName = (typeof CALLERS)[number];

/** Callers whose credential proves nothing: no valid access token of this broker. */
const NOT_A_VALID_TOKEN: CallerName[] = [
  "none",
  "malformed",
  "expired",
  "revokedByRevoke",
  "revokedByReuse",
  "revokedByAccountDeletion",
  "revokedByAppDeletion",
  "idToken",
  "refreshToken",
];

/** Expected status per caller: `*` for the rest. */
type Expect = Partial<Record<CallerName | "*", number>>;

/** Every caller gets `status`. */
const everyone = (status: number): Expect => ({ "*": status });
/** A route of the app-facing API: tokens of this broker only; the operator's static token means nothing here. */
const appApi = (allowed: Expect, otherwise: number = 403): Expect => ({
  "*": otherwise,
  ...Object.fromEntries(NOT_A_VALID_TOKEN.map((c) => [c, 401])),
  operator: 401,
  ...allowed,
});
/** An operator route: the admin token, or an app's client-credentials token with scope admin. */
const adminOnly = (allowed: number): Expect => ({
  "*": 403,
  ...Object.fromEntries(NOT_A_VALID_TOKEN.map((c) => [c, 401])),
  operator: allowed,
  adminScope: allowed,
});

interface Cell {
  caller: CallerName;
  authorization: string | undefined;
}

interface Row {
  route: string;
  expect: Expect;
  /** The request a cell sends: path (with query), method and body. */
  request(cell: Cell): Promise<{ method: string; path: string; body?: string; contentType?: string; headers?: Record<string, string> }>;
  /** What a cell's answer must say besides its status (who sees what). */
  check?(cell: Cell, body: string): void;
}

describe("the authorization matrix: every route × every caller", () => {
  let setup: Awaited<ReturnType<typeof startBrokerWithGitHubLike>>;
  let broker: TestBroker;
  let upstream: OAuth2Upstream;
  let appA: TestApp;
  let appB: TestApp;
  let accountA: string;
  let accountB: string;
  let otherAppsAccount: string;
  const bearer = new Map<CallerName, string | undefined>();
  let nextUser = 100;

  /** Connects a new end user's account to `app` and returns it with the app's broker tokens. */
  async function connectNew(app: TestApp, scope = USER_SCOPE) {
    const id = nextUser++;
    upstream.setUser({ id, login: `u${id}`, email: `u${id}@example.test`, name: `User ${id}` });
    return connectTestAccount(app, "gh", scope);
  }

  async function appToken(app: TestApp, scope: string): Promise<string> {
    return (await client.clientCredentialsGrant(app.config, { scope })).access_token;
  }

  before(async () => {
    setup = await startBrokerWithGitHubLike({ env: { BROKER_ADMIN_TOKEN: ADMIN_TOKEN } });
    ({ broker, upstream } = setup);
    appA = await registerTestApp(broker, ALL_APP_SCOPES);
    appB = await registerTestApp(broker, ALL_APP_SCOPES);
    const a = await connectNew(appA);
    accountA = a.accountId;
    accountB = (await connectNew(appA)).accountId;
    otherAppsAccount = (await connectNew(appB)).accountId;

    bearer.set("none", undefined);
    bearer.set("malformed", "Bearer not-a-token");
    const expired = await issueAccessToken(broker.services, {
      client: { id: appA.id, accessTokenTtl: 3600 },
      subject: accountA,
      scope: USER_SCOPE,
      accountId: accountA,
      connectorId: "gh",
      ttl: -600,
    });
    bearer.set("expired", `Bearer ${expired.accessToken}`);

    const revoked = await connectNew(appA);
    await client.tokenRevocation(appA.config, revoked.tokens.access_token);
    bearer.set("revokedByRevoke", `Bearer ${revoked.tokens.access_token}`);

    const reused = await connectNew(appA);
    await client.refreshTokenGrant(appA.config, reused.tokens.refresh_token!);
    await assert.rejects(client.refreshTokenGrant(appA.config, reused.tokens.refresh_token!));
    bearer.set("revokedByReuse", `Bearer ${reused.tokens.access_token}`);

    const deletedAccount = await connectNew(appA);
    const deleted = await fetch(`${broker.url}/v1/accounts/${deletedAccount.accountId}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${await appToken(appA, "accounts:write")}` },
    });
    assert.equal(deleted.status, 200);
    bearer.set("revokedByAccountDeletion", `Bearer ${deletedAccount.tokens.access_token}`);

    const doomed = await registerTestApp(broker, ALL_APP_SCOPES);
    const doomedToken = await appToken(doomed, "admin proxy accounts:read accounts:write");
    assert.equal(
      (await fetch(`${broker.url}/admin/v1/apps/${doomed.id}`, { method: "DELETE", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status,
      200,
    );
    bearer.set("revokedByAppDeletion", `Bearer ${doomedToken}`);

    bearer.set("idToken", `Bearer ${a.tokens.id_token}`);
    bearer.set("refreshToken", `Bearer ${(await connectNew(appA)).tokens.refresh_token}`);
    bearer.set("otherApp", `Bearer ${await appToken(appB, "proxy accounts:read accounts:write")}`);
    bearer.set("userA", `Bearer ${a.tokens.access_token}`);
    bearer.set("userAOnB", `Bearer ${a.tokens.access_token}`);
    bearer.set("ccScoped", `Bearer ${await appToken(appA, "proxy accounts:read accounts:write")}`);
    bearer.set("ccUnscoped", `Bearer ${await appToken(appA, "tokens:read")}`);
    bearer.set("adminScope", `Bearer ${await appToken(appA, "admin")}`);
    bearer.set("operator", `Bearer ${ADMIN_TOKEN}`);
  });

  after(async () => {
    await setup?.stop();
  });

  /** The account a cell's `:id` names: A for every caller but "user A against B". */
  const accountOf = (cell: Cell) => (cell.caller === "userAOnB" ? accountB : accountA);
  /** A throwaway account for a cell that may delete or revoke, with a user token bound to it. */
  const throwaway = async (cell: Cell) => {
    const made = await connectNew(appA);
    // The user's own token for their own account; every other caller keeps its token.
    if (cell.caller === "userA") cell.authorization = `Bearer ${made.tokens.access_token}`;
    return made.accountId;
  };
  const mayChange = (row: Row, cell: Cell) => resolve(row.expect, cell.caller) < 300;
  /** A failed webhook delivery to an app with a webhook URL (nothing listens there; no worker runs here). */
  const failedDelivery = async () => {
    const { client: hooked } = await broker.services.clients.create(
      { name: "Hooked", redirectUris: [TEST_APP_REDIRECT], webhookUrl: "http://127.0.0.1:9/hooks" },
      broker.services.keyring,
    );
    const id = `msg_matrix${nextUser++}`;
    await broker.services.db.webhookDelivery.create({
      data: { id, appId: hooked.id, eventType: "account.connected", body: "{}", status: "failed", attempts: 1 },
    });
    return id;
  };
  const get = (path: string) => async () => ({ method: "GET", path });
  const form =
    (method: string, path: string, body = "") =>
    async () => ({ method, path, body, contentType: "application/x-www-form-urlencoded" });
  const json = (method: string, path: string, body: unknown) => ({ method, path, body: JSON.stringify(body), contentType: "application/json" });

  const ROWS: Row[] = [
    // Public documents and probes: the same for everyone.
    { route: "GET /", expect: everyone(200), request: get("/") },
    { route: "GET /healthz", expect: everyone(200), request: get("/healthz") },
    { route: "GET /readyz", expect: everyone(200), request: get("/readyz") },
    { route: "GET /.well-known/openid-configuration", expect: everyone(200), request: get("/.well-known/openid-configuration") },
    { route: "GET /.well-known/oauth-authorization-server", expect: everyone(200), request: get("/.well-known/oauth-authorization-server") },
    { route: "GET /oauth/jwks", expect: everyone(200), request: get("/oauth/jwks") },
    // RFC 9728 protected resource metadata: public documents.
    { route: "GET /.well-known/oauth-protected-resource", expect: everyone(200), request: get("/.well-known/oauth-protected-resource") },
    {
      route: "GET /.well-known/oauth-protected-resource/v1/proxy",
      expect: everyone(200),
      request: get("/.well-known/oauth-protected-resource/v1/proxy"),
    },
    { route: "GET /connect.js", expect: everyone(200), request: get("/connect.js") },
    // Browser pages: a bearer token changes nothing (no state, no connect id: an error page).
    { route: "GET /oauth/authorize", expect: everyone(400), request: get("/oauth/authorize") },
    { route: "POST /oauth/authorize", expect: everyone(400), request: form("POST", "/oauth/authorize") },
    { route: "GET /device", expect: everyone(200), request: get("/device") },
    { route: "POST /device", expect: everyone(403), request: form("POST", "/device", "user_code=ABCD-EFGH") },
    { route: "POST /device/decision", expect: everyone(403), request: form("POST", "/device/decision", "decision=approve") },
    { route: "GET /connect/callback", expect: everyone(400), request: get("/connect/callback?state=x.y&code=z") },
    { route: "GET /connect/callback/:connector", expect: everyone(400), request: get("/connect/callback/gh?state=x.y&code=z") },
    { route: "GET /connect/callback/:connector/:host", expect: everyone(400), request: get("/connect/callback/gh/git.example.com?state=x.y&code=z") },
    { route: "GET /connect/start", expect: everyone(400), request: get("/connect/start") },
    // Connect on demand: the ticket in the path is the only key; bearer tokens and cookies of other pages prove nothing.
    { route: "GET /connect/on-demand/:ticket", expect: everyone(400), request: get(`/connect/on-demand/${"t".repeat(43)}`) },
    { route: "POST /connect/on-demand/:ticket", expect: everyone(403), request: form("POST", `/connect/on-demand/${"t".repeat(43)}`, "csrf=x") },
    { route: "GET /connect/hostname", expect: everyone(400), request: get("/connect/hostname") },
    { route: "POST /connect/hostname", expect: everyone(400), request: form("POST", "/connect/hostname", "hostname=git.example.com") },
    { route: "GET /connect/credentials", expect: everyone(400), request: get("/connect/credentials") },
    { route: "POST /connect/credentials", expect: everyone(400), request: form("POST", "/connect/credentials", "apiKey=x") },
    // Back-channel OAuth endpoints authenticate the client, never a bearer token.
    { route: "POST /oauth/token", expect: everyone(401), request: form("POST", "/oauth/token", "grant_type=client_credentials") },
    { route: "POST /oauth/introspect", expect: everyone(401), request: form("POST", "/oauth/introspect", "token=x") },
    // RFC 7591 registration: off by default (BROKER_DYNAMIC_REGISTRATION), whoever asks; a bearer token is never an initial access token here.
    {
      route: "POST /oauth/register",
      expect: everyone(404),
      request: async () => json("POST", "/oauth/register", { redirect_uris: ["https://agent.example.com/cb"], token_endpoint_auth_method: "none" }),
    },
    { route: "POST /oauth/revoke", expect: everyone(401), request: form("POST", "/oauth/revoke", "token=x") },
    { route: "POST /oauth/device_authorization", expect: everyone(401), request: form("POST", "/oauth/device_authorization", "scope=proxy") },
    // Userinfo: an account-bound token with openid.
    { route: "GET /oauth/userinfo", expect: appApi({ userA: 200, userAOnB: 200 }), request: get("/oauth/userinfo") },
    { route: "POST /oauth/userinfo", expect: appApi({ userA: 200, userAOnB: 200 }), request: form("POST", "/oauth/userinfo") },
    // The accounts API: an app's token sees its accounts, a user's token only its own.
    {
      route: "GET /v1/accounts",
      expect: appApi({ userA: 200, userAOnB: 200, ccScoped: 200, otherApp: 200 }),
      request: get("/v1/accounts?limit=200"),
      check(cell, body) {
        const ids = (JSON.parse(body) as { data: { id: string }[] }).data.map((a) => a.id);
        if (cell.caller === "userA" || cell.caller === "userAOnB") assert.deepEqual(ids, [accountA], "a user's token lists only its own account");
        if (cell.caller === "ccScoped") assert.ok(ids.includes(accountA) && ids.includes(accountB) && !ids.includes(otherAppsAccount));
        if (cell.caller === "otherApp")
          assert.ok(ids.includes(otherAppsAccount) && !ids.includes(accountA) && !ids.includes(accountB), "another app's accounts are never listed");
      },
    },
    {
      route: "GET /v1/accounts/:id",
      expect: appApi({ userA: 200, ccScoped: 200, userAOnB: 404, otherApp: 404 }),
      request: async (cell) => ({ method: "GET", path: `/v1/accounts/${accountOf(cell)}` }),
    },
    { route: "ANY /v1/proxy/*", expect: appApi({ userA: 200, userAOnB: 200, ccScoped: 400, otherApp: 400 }), request: get("/v1/proxy/echo") },
    {
      route: "ANY /v1/accounts/:id/proxy/*",
      expect: appApi({ userA: 200, ccScoped: 200, userAOnB: 404, otherApp: 404 }),
      request: async (cell) => ({ method: "GET", path: `/v1/accounts/${accountOf(cell)}/proxy/echo` }),
    },
    // Operator routes.
    { route: "GET /admin/v1/openapi.json", expect: adminOnly(200), request: get("/admin/v1/openapi.json") },
    { route: "GET /admin/v1/apps", expect: adminOnly(200), request: get("/admin/v1/apps") },
    {
      route: "POST /admin/v1/apps",
      expect: adminOnly(201),
      request: async () => json("POST", "/admin/v1/apps", { name: "Matrix app", redirect_uris: [TEST_APP_REDIRECT] }),
    },
    { route: "GET /admin/v1/apps/:id", expect: adminOnly(200), request: async () => ({ method: "GET", path: `/admin/v1/apps/${appA.id}` }) },
    {
      route: "PUT /admin/v1/apps/:id/webhook",
      expect: adminOnly(200),
      // Allowed cells change an app of their own.
      request: async function (this: Row, cell) {
        const target = mayChange(this, cell) ? (await registerTestApp(broker)).id : appA.id;
        return json("PUT", `/admin/v1/apps/${target}/webhook`, { url: "https://hooks.example.com/matrix" });
      },
    },
    { route: "GET /admin/v1/connectors", expect: adminOnly(200), request: get("/admin/v1/connectors") },
    { route: "GET /admin/v1/connector-files", expect: adminOnly(200), request: get("/admin/v1/connector-files") },
    {
      route: "POST /admin/v1/connectors/validate",
      expect: adminOnly(200),
      request: async () => json("POST", "/admin/v1/connectors/validate", { document: "id: matrix\nname: Matrix\nauth:\n  kind: api_key\n" }),
    },
    // A reload of unchanged files changes nothing another cell could see.
    { route: "POST /admin/v1/connectors/reload", expect: adminOnly(200), request: async () => ({ method: "POST", path: "/admin/v1/connectors/reload" }) },
    {
      route: "PUT /admin/v1/connectors/:id/credentials",
      expect: adminOnly(200),
      // Allowed cells store credentials for an app of their own, so no other cell's connect changes.
      request: async function (this: Row, cell) {
        const appId = mayChange(this, cell) ? (await registerTestApp(broker)).id : appA.id;
        return json("PUT", "/admin/v1/connectors/gh/credentials", { app_id: appId, client_id: "matrix-client", client_secret: "matrix-secret-0123456789" });
      },
    },
    { route: "GET /admin/v1/accounts", expect: adminOnly(200), request: get("/admin/v1/accounts") },
    { route: "GET /admin/v1/accounts/:id", expect: adminOnly(200), request: async () => ({ method: "GET", path: `/admin/v1/accounts/${accountA}` }) },
    {
      route: "POST /admin/v1/accounts/:id/refresh",
      expect: adminOnly(200),
      request: async () => ({ method: "POST", path: `/admin/v1/accounts/${accountA}/refresh` }),
    },
    { route: "GET /admin/v1/audit-events", expect: adminOnly(200), request: get("/admin/v1/audit-events") },
    { route: "GET /admin/v1/webhooks/deliveries", expect: adminOnly(200), request: get("/admin/v1/webhooks/deliveries") },
    {
      route: "GET /admin/v1/webhooks/deliveries/:id",
      expect: adminOnly(200),
      request: async () => ({ method: "GET", path: `/admin/v1/webhooks/deliveries/${await failedDelivery()}` }),
    },
    {
      route: "POST /admin/v1/webhooks/deliveries/:id/redeliver",
      expect: adminOnly(202),
      request: async () => ({ method: "POST", path: `/admin/v1/webhooks/deliveries/${await failedDelivery()}/redeliver` }),
    },
    { route: "GET /metrics", expect: adminOnly(200), request: get("/metrics") },
    { route: "ANY /admin/queues/*", expect: adminOnly(200), request: get("/admin/queues") },
    // Rows that change or delete: allowed cells act on throwaways, refused ones on the real resources.
    {
      route: "DELETE /v1/accounts/:id",
      expect: appApi({ userA: 200, ccScoped: 200, userAOnB: 404, otherApp: 404 }),
      request: async function (this: Row, cell) {
        return { method: "DELETE", path: `/v1/accounts/${mayChange(this, cell) ? await throwaway(cell) : accountOf(cell)}` };
      },
    },
    {
      route: "POST /admin/v1/accounts/:id/revoke",
      expect: adminOnly(200),
      request: async function (this: Row, cell) {
        return { method: "POST", path: `/admin/v1/accounts/${mayChange(this, cell) ? await throwaway(cell) : accountA}/revoke` };
      },
    },
    {
      route: "DELETE /admin/v1/accounts/:id",
      expect: adminOnly(200),
      request: async function (this: Row, cell) {
        return { method: "DELETE", path: `/admin/v1/accounts/${mayChange(this, cell) ? await throwaway(cell) : accountA}` };
      },
    },
    {
      route: "POST /admin/v1/apps/:id/rotate-secret",
      expect: adminOnly(200),
      // Allowed cells rotate a throwaway app's secret; refused ones try appB's, which must still work at the end.
      request: async function (this: Row, cell) {
        const appId = mayChange(this, cell) ? (await registerTestApp(broker)).id : appB.id;
        return json("POST", `/admin/v1/apps/${appId}/rotate-secret`, { overlap_seconds: 0 });
      },
      check: (_cell, body) => assert.match((JSON.parse(body) as { client_secret: string }).client_secret, /^abs_/),
    },
    {
      route: "DELETE /admin/v1/apps/:id",
      expect: adminOnly(200),
      request: async function (this: Row, cell) {
        return { method: "DELETE", path: `/admin/v1/apps/${mayChange(this, cell) ? (await registerTestApp(broker)).id : appB.id}` };
      },
    },
    { route: "GET /admin/v1/registration-tokens", expect: adminOnly(200), request: get("/admin/v1/registration-tokens") },
    {
      route: "POST /admin/v1/registration-tokens",
      expect: adminOnly(201),
      request: async () => json("POST", "/admin/v1/registration-tokens", { max_uses: 1 }),
      check: (_cell, body) => assert.match((JSON.parse(body) as { token: string }).token, /^abr_/),
    },
    {
      route: "DELETE /admin/v1/registration-tokens/:id",
      expect: adminOnly(200),
      // Every cell names a token of its own; refused cells leave theirs unrevoked (checked by the status alone: 403/401 change nothing).
      request: async () => ({ method: "DELETE", path: `/admin/v1/registration-tokens/${(await createRegistrationToken(broker.services.db)).view.id}` }),
    },
    { route: "GET /admin/v1/resources", expect: adminOnly(200), request: get("/admin/v1/resources") },
    {
      route: "POST /admin/v1/resources",
      expect: adminOnly(201),
      // Every cell names a URI of its own, so an allowed cell's resource never conflicts with another's.
      request: async () => json("POST", "/admin/v1/resources", { uri: `https://mcp${nextUser++}.example.com/mcp`, scopes: ["tools:read"] }),
      check: (_cell, body) => assert.deepEqual((JSON.parse(body) as { scopes: string[] }).scopes, ["tools:read"]),
    },
    {
      route: "DELETE /admin/v1/resources/:uri",
      expect: adminOnly(200),
      // Every cell names a resource of its own; refused cells leave theirs (checked by the status alone: 403/401 change nothing).
      request: async () => {
        const uri = `https://mcp${nextUser++}.example.com/mcp`;
        await createResource(broker.services.db, broker.services.config.issuer, { uri, scopes: ["tools:read"] });
        return { method: "DELETE", path: `/admin/v1/resources/${encodeURIComponent(uri)}` };
      },
    },
    // Last: a new signing key (the previous one still verifies the callers' tokens).
    { route: "POST /admin/v1/keys/rotate", expect: adminOnly(200), request: async () => ({ method: "POST", path: "/admin/v1/keys/rotate" }) },
  ];

  function resolve(expect: Expect, caller: CallerName): number {
    const status = expect[caller] ?? expect["*"];
    assert.ok(status !== undefined, `no expectation for ${caller}`);
    return status;
  }

  it("has a row for every route the broker serves, and no row for a route it does not serve", async () => {
    const served = routeTable(broker.services).map(routeKey);
    const rows = ROWS.map((r) => r.route);
    assert.deepEqual(
      served.filter((route) => !rows.includes(route)),
      [],
      "routes without a row in the matrix",
    );
    assert.deepEqual(
      rows.filter((route) => !served.includes(route)),
      [],
      "rows for routes the broker does not serve",
    );
    assert.equal(new Set(rows).size, rows.length, "one row per route");
  });

  it("answers every cell as the table says", async () => {
    const failures: string[] = [];
    for (const row of ROWS) {
      for (const caller of CALLERS) {
        const cell: Cell = { caller, authorization: bearer.get(caller) };
        let spec;
        try {
          spec = await row.request.call(row, cell);
        } catch (err) {
          failures.push(`${row.route} × ${caller}: its request could not be prepared: ${(err as Error).message}`);
          continue;
        }
        const headers: Record<string, string> = { ...spec.headers };
        if (cell.authorization !== undefined) headers.authorization = cell.authorization;
        if (spec.contentType) headers["content-type"] = spec.contentType;
        const res = await fetch(`${broker.url}${spec.path}`, { method: spec.method, headers, body: spec.body, redirect: "manual" });
        const body = await res.text();
        const expected = resolve(row.expect, caller);
        if (res.status !== expected)
          failures.push(`${row.route} × ${caller}: ${res.status}, expected ${expected} (${body.slice(0, 160).replace(/\s+/g, " ")})`);
        else if (res.status >= 500) failures.push(`${row.route} × ${caller}: a server error`);
        else if (row.check && res.status < 300) {
          try {
            row.check(cell, body);
          } catch (err) {
            failures.push(`${row.route} × ${caller}: ${(err as Error).message}`);
          }
        }
      }
    }
    assert.deepEqual(failures, [], `cells that differ from the table:\n${failures.join("\n")}`);
    // The refused cells acted on the real resources: they are intact.
    const intact = await broker.services.db.account.findMany({ where: { id: { in: [accountA, accountB] } }, select: { id: true, status: true } });
    assert.deepEqual(intact.map((a) => a.status).sort(), ["active", "active"]);
    assert.ok(await broker.services.db.app.findUnique({ where: { id: appB.id } }), "another app survives every refused delete");
    broker.services.clients.invalidate(appB.id);
    assert.ok((await client.clientCredentialsGrant(appB.config, { scope: "proxy" })).access_token, "no refused rotation changed another app's secret");
  });
});
