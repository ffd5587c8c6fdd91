/**
 * The proxy forwards app calls to upstream APIs with the account's
 * credentials (issue 7, docs/proxy.md): every credential style against
 * a real API that checks it, method/query/body passed through, hop-by-hop
 * headers and the broker's Authorization stripped, the broker's request id
 * sent (never the app's), upstream statuses and rate-limit headers relayed, traversal
 * refused before anything reaches the upstream, per-server accounts sent to
 * their checked address; every call counted and audited.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { reserveBrokerUrl, startTestBroker, type TestBroker } from "../../support/broker.js";
import { startOAuth2Upstream, type OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { connectTestAccount, registerTestApp, type TestApp, gitHubLikeConnector } from "../../support/flow.js";
import {
  accountToken,
  basicCheck,
  headerCheck,
  queryCheck,
  rawRequest,
  startApiUpstream,
  storeTestAccount,
  type ApiUpstream,
} from "../../support/api-upstream.js";
import { flushProxyAudit } from "../../../src/proxy/router.js";
import { PROXY_AUDIT_ACTION } from "../../../src/proxy/audit.js";

const API_KEY = "sk_test_4f1c9a0b7e2d";
const QUERY_KEY = "qk_test_77aa01";
const BASIC = { username: "ada", password: "correct horse battery staple" };

interface Echo {
  method: string;
  rawUrl: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
  bodyBytes: number;
}

describe("the proxy forwards calls with the account's credentials", () => {
  let broker: TestBroker;
  let github: OAuth2Upstream;
  let basicApi: ApiUpstream;
  let headerApi: ApiUpstream;
  let queryApi: ApiUpstream;
  let app: TestApp;
  /** Broker tokens by connector. */
  const tokens: Record<string, string> = {};
  const accounts: Record<string, string> = {};

  before(async () => {
    const reserved = await reserveBrokerUrl();
    github = await startOAuth2Upstream({ clients: [{ client_id: "b", client_secret: "b-secret-0123456789", redirect_uris: [reserved.callbackUrl("gh")] }] });
    basicApi = await startApiUpstream({ check: basicCheck(BASIC.username, BASIC.password) });
    headerApi = await startApiUpstream({ check: headerCheck("X-Api-Key", API_KEY) });
    queryApi = await startApiUpstream({ check: queryCheck("api_key", QUERY_KEY) });
    const keyFields = [{ name: "key", label: "API key", secret: true }];
    broker = await startTestBroker({
      port: reserved.port,
      connectors: {
        "gh.json": gitHubLikeConnector(github, { client_id: "b", client_secret: "b-secret-0123456789" }),
        "acme-basic.json": {
          id: "acme-basic",
          name: "Acme Basic",
          auth: { kind: "basic" },
          api: { baseUrl: `${basicApi.url}/echo`, credentials: "basic" },
          identity: { url: `${basicApi.url}/echo/me`, subject: "path" },
        },
        "acme-header.json": {
          id: "acme-header",
          name: "Acme Header",
          auth: { kind: "api_key", fields: keyFields },
          api: { baseUrl: headerApi.url, credentials: "header:X-Api-Key" },
          identity: { url: `${headerApi.url}/echo/me`, subject: "path" },
        },
        "acme-query.json": {
          id: "acme-query",
          name: "Acme Query",
          auth: { kind: "api_key", fields: keyFields },
          api: { baseUrl: `${queryApi.url}/echo/v1`, credentials: "query:api_key" },
          identity: { url: `${queryApi.url}/echo/me`, subject: "path" },
        },
        "acme-server.json": {
          id: "acme-server",
          name: "Acme Server",
          auth: { kind: "api_key", fields: keyFields },
          hostname: { pattern: "^localhost:\\d+$" },
          api: { baseUrl: "http://{hostname}/echo", credentials: "header:X-Api-Key" },
          identity: { url: "http://{hostname}/echo/me", subject: "path" },
        },
      },
    });
    app = await registerTestApp(broker);
    const gh = await connectTestAccount(app, "gh");
    accounts.gh = gh.accountId;
    tokens.gh = gh.tokens.access_token;
    const stored = {
      "acme-basic": { fields: { username: BASIC.username, password: BASIC.password } },
      "acme-header": { fields: { key: API_KEY } },
      "acme-query": { fields: { key: QUERY_KEY } },
    };
    for (const [connectorId, creds] of Object.entries(stored)) {
      accounts[connectorId] = await storeTestAccount(broker.services, { appId: app.id, connectorId, tokens: creds });
      tokens[connectorId] = await accountToken(broker.services, { appId: app.id, accountId: accounts[connectorId]!, connectorId });
    }
  });

  after(async () => {
    await broker?.stop();
    await Promise.all([github?.close(), basicApi?.close(), headerApi?.close(), queryApi?.close()]);
  });

  const call = (connector: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) =>
    rawRequest(broker.url, {
      method: init.method,
      path: `/v1/proxy${path}`,
      headers: { authorization: `Bearer ${tokens[connector]}`, ...init.headers },
      body: init.body,
    });

  describe("every credential style reaches an API that checks it", () => {
    it("bearer: an oauth2 account's upstream access token, never the broker token", async () => {
      const res = await call("gh", "/repos/octo/hello?per_page=5");
      assert.equal(res.status, 200, res.text);
      const echo = res.json<Echo & { user: { login: string } }>();
      assert.equal(echo.path, "/api/repos/octo/hello");
      assert.deepEqual(echo.query, { per_page: "5" });
      assert.equal(echo.user.login, "octocat");
      const sent = echo.headers.authorization!.replace(/^Bearer /, "");
      assert.ok(github.issuedAccessTokens().includes(sent), "the upstream's own token was sent");
      assert.notEqual(sent, tokens.gh);
    });

    it("basic: the username and password the end user typed (RFC 7617)", async () => {
      const res = await call("acme-basic", "/me");
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json<Echo>().path, "/echo/me");
      assert.equal(res.json<Echo>().headers.authorization, `Basic ${Buffer.from(`${BASIC.username}:${BASIC.password}`).toString("base64")}`);
    });

    it("header:X-Api-Key: the key in that header, and no Authorization at all", async () => {
      const res = await call("acme-header", "/echo/items", { headers: { "x-api-key": "chosen-by-the-app" } });
      assert.equal(res.status, 200, res.text);
      const echo = res.json<Echo>();
      assert.equal(echo.headers["x-api-key"], API_KEY, "the app cannot choose the credential");
      assert.equal(echo.headers.authorization, undefined);
    });

    it("query:api_key: the key as the only api_key parameter, the app's query otherwise untouched", async () => {
      const res = await call("acme-query", "/items?q=a%20b&api_key=chosen-by-the-app&sort=-created");
      assert.equal(res.status, 200, res.text);
      const echo = res.json<Echo>();
      assert.equal(echo.path, "/echo/v1/items");
      assert.equal(echo.rawUrl, `/echo/v1/items?q=a%20b&sort=-created&api_key=${QUERY_KEY}`);
      assert.equal(echo.headers.authorization, undefined);
    });

    it("a wrong stored credential gets the upstream's own 401, passed back as it is", async () => {
      const wrong = await storeTestAccount(broker.services, { appId: app.id, connectorId: "acme-header", tokens: { fields: { key: "sk_wrong" } } });
      const token = await accountToken(broker.services, { appId: app.id, accountId: wrong, connectorId: "acme-header" });
      const res = await rawRequest(broker.url, { path: "/v1/proxy/echo/x", headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 401);
      assert.deepEqual(res.json(), { message: "Bad credentials" });
      assert.equal(res.headers["www-authenticate"], 'Bearer realm="api"');
    });
  });

  describe("requests pass through", () => {
    it("method, query and body arrive as the app sent them", async () => {
      const body = JSON.stringify({ title: "Hello", tags: ["a", "b"] });
      const res = await call("acme-header", "/echo/items/7?expand=owner&x=%2F", { method: "PATCH", headers: { "content-type": "application/json" }, body });
      assert.equal(res.status, 200);
      const echo = res.json<Echo>();
      assert.equal(echo.method, "PATCH");
      assert.equal(echo.rawUrl, "/echo/items/7?expand=owner&x=%2F");
      assert.equal(echo.body, body);
      assert.equal(echo.headers["content-type"], "application/json");
      assert.equal(echo.headers["content-length"], String(Buffer.byteLength(body)));
    });

    it("hop-by-hop headers, the broker's Authorization, cookies and X-Forwarded-* are not forwarded; Host is the upstream's", async () => {
      const res = await call("acme-header", "/echo/h", {
        headers: {
          connection: "keep-alive, X-App-Hop",
          "x-app-hop": "private",
          "keep-alive": "timeout=10",
          te: "trailers",
          cookie: "broker_session=abc",
          "x-forwarded-for": "10.1.2.3",
          "x-forwarded-host": "evil.example",
          forwarded: "for=10.1.2.3",
          "x-end-to-end": "kept",
        },
      });
      const { headers } = res.json<Echo>();
      for (const name of ["x-app-hop", "keep-alive", "te", "cookie", "x-forwarded-for", "x-forwarded-host", "forwarded", "authorization"])
        assert.equal(headers[name], undefined, name);
      assert.ok(!JSON.stringify(headers).includes(tokens["acme-header"]!), "the broker token appears nowhere upstream");
      assert.equal(headers.host, `127.0.0.1:${headerApi.port}`);
      assert.equal(headers["x-end-to-end"], "kept");
    });

    it("the upstream and the audit row get the broker's request id, never the app's X-Request-Id, which is only logged beside it", async () => {
      const res = await call("acme-header", "/echo/id", { headers: { "x-request-id": "trace-4711" } });
      const requestId = String(res.headers["x-request-id"]);
      assert.match(requestId, /^[0-9a-f-]{36}$/, "a broker-made id is echoed");
      assert.equal(res.json<Echo>().headers["x-request-id"], requestId, "and sent upstream");
      await flushProxyAudit(broker.services);
      assert.ok(await broker.services.db.auditEvent.findFirst({ where: { action: PROXY_AUDIT_ACTION, requestId } }), "the audit row carries the broker's id");
      assert.equal(await broker.services.db.auditEvent.count({ where: { requestId: "trace-4711" } }), 0, "and never the app's");
      const line = broker.services.logs.lines.find((l) => (l.req as { id?: string } | undefined)?.id === requestId && l.msg === "request completed");
      assert.equal((line?.req as { clientRequestId?: string } | undefined)?.clientRequestId, "trace-4711", "the app's id is in the log line, for correlation");
      const again = await call("acme-header", "/echo/id", { headers: { "x-request-id": "trace-4711" } });
      assert.notEqual(again.headers["x-request-id"], requestId, "two requests never share an id");
    });
  });

  describe("responses pass through", () => {
    it("a rate-limited answer keeps its status, Retry-After and X-RateLimit-* headers untouched", async () => {
      const res = await call("acme-header", "/rate-limited");
      assert.equal(res.status, 429);
      assert.equal(res.headers["retry-after"], "30");
      assert.equal(res.headers["x-ratelimit-limit"], "5000");
      assert.equal(res.headers["x-ratelimit-remaining"], "0");
      assert.equal(res.headers["x-ratelimit-reset"], "1700000000");
      assert.equal(res.headers["x-ratelimit-resource"], "core");
      assert.deepEqual(res.json(), { message: "API rate limit exceeded" });
    });

    for (const status of [201, 204, 404, 409, 500, 503]) {
      it(`upstream status ${status} reaches the app with the upstream's body`, async () => {
        const res = await call("acme-header", `/status/${status}`);
        assert.equal(res.status, status);
        if (status !== 204) assert.deepEqual(res.json(), { status });
        else assert.equal(res.text, "");
      });
    }

    it("hop-by-hop response headers and Set-Cookie are removed; end-to-end ones kept; the body is sandboxed", async () => {
      const res = await call("acme-header", "/hop-by-hop");
      assert.equal(res.status, 200);
      assert.equal(res.headers["x-upstream-hop"], undefined);
      assert.equal(res.headers["set-cookie"], undefined);
      assert.notEqual(res.headers["keep-alive"], "timeout=5");
      assert.equal(res.headers["x-end-to-end"], "kept");
      assert.equal(res.headers["content-security-policy"], "default-src 'none'; sandbox");
      assert.deepEqual(res.json(), { ok: true });
    });

    it("HEAD gets the headers and no body", async () => {
      const res = await call("acme-header", "/echo/head", { method: "HEAD" });
      assert.equal(res.status, 200);
      assert.equal(res.text, "");
      assert.equal(res.headers["content-type"], "application/json; charset=utf-8");
    });
  });

  describe("the proxied path can never leave api.baseUrl", () => {
    const attempts = [
      "/../admin",
      "/items/../../admin",
      "/%2e%2e/admin",
      "/%2E%2E%2Fadmin",
      "/items%2f..%2fadmin",
      "/..%5cadmin",
      "/..\\admin",
      "//evil.example/x",
      "/https://evil.example/x",
      "/@evil.example/x",
      "/user%40evil.example",
      "/%252e%252e/admin",
      "/..;/admin",
      "/items/%00",
      "/./x",
    ];
    for (const path of attempts) {
      it(`refuses ${JSON.stringify(path)} with 400 before anything is sent upstream`, async () => {
        const before = headerApi.requests.length;
        const res = await call("acme-header", path);
        assert.equal(res.status, 400, res.text);
        const body = res.json<{ error: string; request_id: string }>();
        assert.equal(body.error, "invalid_request");
        assert.equal(body.request_id, res.headers["x-request-id"]);
        assert.equal(headerApi.requests.length, before, "nothing reached the upstream");
      });
    }
  });

  describe("per-server accounts", () => {
    it("go to the address their hostname was checked to resolve to, with that hostname as Host", async () => {
      const hostname = `localhost:${headerApi.port}`;
      const accountId = await storeTestAccount(broker.services, {
        appId: app.id,
        connectorId: "acme-server",
        hostname,
        pinnedAddress: "127.0.0.1",
        tokens: { fields: { key: API_KEY } },
      });
      const token = await accountToken(broker.services, { appId: app.id, accountId, connectorId: "acme-server" });
      const res = await rawRequest(broker.url, { path: "/v1/proxy/projects", headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200, res.text);
      const echo = res.json<Echo>();
      assert.equal(echo.path, "/echo/projects");
      assert.equal(echo.headers.host, hostname);
    });

    it("are refused (502) when their pinned address is no longer allowed, without connecting anywhere", async () => {
      const hostname = `localhost:${headerApi.port}`;
      const accountId = await storeTestAccount(broker.services, {
        appId: app.id,
        connectorId: "acme-server",
        hostname,
        pinnedAddress: "10.20.30.40",
        tokens: { fields: { key: API_KEY } },
      });
      const token = await accountToken(broker.services, { appId: app.id, accountId, connectorId: "acme-server" });
      const before = headerApi.requests.length;
      const res = await rawRequest(broker.url, { path: "/v1/proxy/projects", headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 502, res.text);
      assert.equal(res.json<{ error: string }>().error, "upstream_error");
      assert.equal(headerApi.requests.length, before);
    });
  });

  describe("observability", () => {
    it("counts calls by connector and status and records upstream latency and broker overhead", async () => {
      await call("acme-header", "/status/418");
      const registry = broker.services.metrics.registry;
      const requests = await registry.getSingleMetric("authbroker_proxy_requests_total")!.get();
      const teapots = requests.values.find((v) => v.labels.connector === "acme-header" && v.labels.status === "418");
      assert.ok(teapots && teapots.value >= 1, "a 418 at acme-header was counted");
      const upstream = await registry.getSingleMetric("authbroker_proxy_upstream_duration_seconds")!.get();
      assert.ok(
        upstream.values.some(
          (v) => v.labels.connector === "acme-header" && String((v as { metricName?: string }).metricName).endsWith("_count") && v.value > 0,
        ),
      );
      const overhead = await registry.getSingleMetric("authbroker_proxy_overhead_seconds")!.get();
      assert.ok(overhead.values.some((v) => String((v as { metricName?: string }).metricName).endsWith("_count") && v.value > 0));
    });

    it("audits who called what (app, account, method, path template, status) without secrets or query", async () => {
      const res = await call("acme-query", "/files/123456/content?api_key=x&q=secret-search", { method: "DELETE" });
      await flushProxyAudit(broker.services);
      const event = await broker.services.db.auditEvent.findFirst({ where: { action: PROXY_AUDIT_ACTION, requestId: String(res.headers["x-request-id"]) } });
      assert.ok(event, "an audit event was written");
      assert.equal(event.actorType, "app");
      assert.ok(Math.abs(event.at.getTime() - Date.now()) < 10_000, "at is the time of the call");
      assert.equal(event.appId, app.id);
      assert.equal(event.accountId, accounts["acme-query"]);
      assert.equal(event.connectorId, "acme-query");
      assert.deepEqual(event.detail, { method: "DELETE", path: "/files/{id}/content", status: 200, retried: false });
      const stored = JSON.stringify(await broker.services.db.auditEvent.findMany({ where: { action: PROXY_AUDIT_ACTION } }), (_key, value: unknown) =>
        typeof value === "bigint" ? String(value) : value,
      );
      for (const secret of [API_KEY, QUERY_KEY, BASIC.password, "secret-search", ...Object.values(tokens)])
        assert.ok(!stored.includes(secret), "no secret in audit events");
    });
  });
});
