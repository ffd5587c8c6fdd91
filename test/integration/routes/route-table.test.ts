/**
 * The route table (src/routes.ts) and the one pipeline both lanes run
 * (src/http/pipeline.ts): whichever lane answers a route, a client and an
 * operator see the same thing — paths matched as express matches them, the
 * broker's request id, one completion line per request with secrets masked,
 * CORS, preflights and 405s made from the table, errors in the style the
 * table gives the route (never chosen by a path prefix), a 404 for any
 * other path, and a client that hangs up mid-request is no server error.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { startTestBroker, type TestBroker } from "../../support/broker.js";
import { basic, form, send } from "../../support/raw-http.js";
import { until } from "../../support/wait.js";
import { routeKey } from "../../../src/http/route.js";
import { routeTable } from "../../../src/routes.js";

describe("the route table", () => {
  let broker: TestBroker;
  let authorization: string;
  let appToken: string;

  before(async () => {
    broker = await startTestBroker();
    const created = await broker.services.clients.create({
      name: "Routes",
      redirectUris: ["http://127.0.0.1:9/cb"],
      grantTypes: ["client_credentials"],
      scopes: ["proxy", "accounts:read"],
    });
    authorization = basic(created.client.id, created.secret!);
    const token = await send(broker.url, { path: "/oauth/token", ...form({ grant_type: "client_credentials", scope: "accounts:read" }, { authorization }) });
    appToken = (JSON.parse(token.text) as { access_token: string }).access_token;
  });
  after(async () => broker?.stop());

  const completionLine = (requestId: unknown) =>
    broker.services.logs.lines.find((l) => (l.req as { id?: string } | undefined)?.id === requestId && l.msg === "request completed");

  it("declares each method and path once", () => {
    const keys = routeTable(broker.services).map(routeKey);
    assert.equal(new Set(keys).size, keys.length, keys.join("\n"));
  });

  it("matches paths as express does on both lanes: any case, one trailing slash, a query string", async () => {
    for (const path of ["/oauth/token", "/OAuth/Token", "/oauth/token/", "/oauth/token?x=1"]) {
      const res = await send(broker.url, { path, ...form({ grant_type: "client_credentials", scope: "proxy" }, { authorization }) });
      assert.equal(res.status, 200, `${path}: ${res.text}`);
    }
    for (const path of ["/v1/accounts", "/V1/Accounts", "/v1/accounts/", "/v1/accounts?limit=1"]) {
      assert.equal((await send(broker.url, { path, headers: { authorization: `Bearer ${appToken}` } })).status, 200, path);
    }
    const other = await send(broker.url, { path: "/oauth/tokens", ...form({ grant_type: "client_credentials" }, { authorization }) });
    assert.equal(other.status, 404, "a longer path is not the token endpoint");
  });

  for (const [lane, request] of [
    [
      "direct",
      () => ({
        path: "/oauth/token?client_secret=sekrit",
        ...form({ grant_type: "client_credentials", scope: "proxy" }, { authorization, "x-request-id": "trace-1" }),
      }),
    ],
    ["express", () => ({ path: "/v1/accounts?client_secret=sekrit", headers: { authorization: `Bearer ${appToken}`, "x-request-id": "trace-1" } })],
  ] as const) {
    it(`${lane} lane: the broker's request id is echoed, and one completion line carries the caller's id beside it, secrets in the URL masked`, async () => {
      const res = await send(broker.url, request());
      assert.equal(res.status, 200, res.text);
      const requestId = String(res.headers["x-request-id"]);
      assert.match(requestId, /^[0-9a-f-]{36}$/, "the broker's own id, not the caller's");
      await until("the completion line", async () => completionLine(requestId) !== undefined, 1_000);
      const line = completionLine(requestId)!;
      assert.equal((line.req as { clientRequestId?: string }).clientRequestId, "trace-1");
      assert.deepEqual(line.res, { statusCode: 200 });
      assert.equal(typeof line.responseTime, "number");
      assert.doesNotMatch(broker.services.logs.text, /sekrit/);
    });
  }

  it("drops a caller's X-Request-Id that is not a well-formed id, from the log line too", async () => {
    const bad = "trace id;with<markup>";
    const res = await send(broker.url, {
      path: "/oauth/token",
      ...form({ grant_type: "client_credentials", scope: "proxy" }, { authorization, "x-request-id": bad }),
    });
    await until("the completion line", async () => completionLine(res.headers["x-request-id"]) !== undefined, 1_000);
    assert.equal((completionLine(res.headers["x-request-id"])!.req as { clientRequestId?: string }).clientRequestId, undefined);
    assert.ok(!broker.services.logs.text.includes(bad));
  });

  it("answers a method a path does not serve with 405 and Allow, in the route's style, open to scripts where the route is", async () => {
    const token = await send(broker.url, { path: "/oauth/token", method: "GET" });
    assert.equal(token.status, 405);
    assert.equal(token.headers.allow, "POST, OPTIONS");
    assert.equal(token.headers["access-control-allow-origin"], "*");
    assert.deepEqual(Object.keys(JSON.parse(token.text) as object).sort(), ["error", "error_description"], "RFC 6749 JSON, no request_id");
    const introspect = await send(broker.url, { path: "/oauth/introspect", method: "PUT" });
    assert.equal(introspect.status, 405);
    assert.equal(introspect.headers.allow, "POST");
    assert.equal(introspect.headers["access-control-allow-origin"], undefined, "introspection is not for browsers");
    const accounts = await send(broker.url, { path: "/v1/accounts", method: "POST" });
    assert.equal(accounts.status, 405);
    assert.equal(accounts.headers.allow, "GET, HEAD");
    assert.ok((JSON.parse(accounts.text) as { request_id?: string }).request_id, "the API's style carries the request id");
    const authorize = await send(broker.url, { path: "/oauth/authorize", method: "DELETE" });
    assert.equal(authorize.status, 405);
    assert.match(String(authorize.headers["content-type"]), /^text\/html/, "a browser route answers a page");
  });

  it("answers preflights of the routes open to scripts, and of no other", async () => {
    const preflight = { method: "OPTIONS", headers: { origin: "https://spa.example", "access-control-request-method": "POST" } };
    for (const [path, methods] of [
      ["/oauth/token", "POST"],
      ["/oauth/revoke", "POST"],
      ["/oauth/userinfo", "GET, POST"],
    ] as const) {
      const res = await send(broker.url, { path, ...preflight });
      assert.equal(res.status, 204, path);
      assert.equal(res.headers["access-control-allow-origin"], "*");
      assert.equal(res.headers["access-control-allow-methods"], methods);
      assert.equal(res.headers["access-control-allow-credentials"], undefined, "never with cookies");
    }
    for (const path of ["/oauth/introspect", "/oauth/authorize", "/v1/accounts", "/oauth/device_authorization"]) {
      const res = await send(broker.url, { path, ...preflight });
      assert.equal(res.status, 405, path);
      assert.equal(res.headers["access-control-allow-origin"], undefined, path);
    }
  });

  it("errors take the route's style, not the path's: a page for the browser's routes, RFC 6749 JSON for OAuth, the API's JSON with request_id", async () => {
    const page = await send(broker.url, { path: "/connect/credentials" });
    assert.equal(page.status, 400);
    assert.match(String(page.headers["content-type"]), /^text\/html/);
    const oauth = await send(broker.url, { path: "/oauth/userinfo" });
    assert.equal(oauth.status, 401);
    assert.equal((JSON.parse(oauth.text) as { request_id?: string }).request_id, undefined);
    assert.equal(oauth.headers["cache-control"], "no-store");
    const api = await send(broker.url, { path: "/v1/accounts" });
    assert.equal(api.status, 401);
    assert.equal((JSON.parse(api.text) as { request_id?: string }).request_id, api.headers["x-request-id"]);
  });

  it("answers any other path 404 in the API's style, with a request id and a completion line", async () => {
    const res = await send(broker.url, { path: "/oauth/nothing-here?code=sekrit" });
    assert.equal(res.status, 404);
    const body = JSON.parse(res.text) as { error: string; request_id: string };
    assert.deepEqual([body.error, body.request_id], ["not_found", res.headers["x-request-id"]]);
    await until("the completion line", async () => completionLine(res.headers["x-request-id"]) !== undefined, 1_000);
    assert.doesNotMatch(broker.services.logs.text, /sekrit/);
  });

  it("a client that hangs up in the middle of its request body is logged as aborted, not answered or logged as a 5xx", async () => {
    const port = Number(new URL(broker.url).port);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.write(
          `POST /oauth/token HTTP/1.1\r\nHost: x\r\nX-Request-Id: trace-hangup-1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\nAuthorization: ${authorization}\r\n\r\ngrant_type=`,
        );
        setTimeout(() => socket.destroy(), 100);
      });
      socket.on("close", () => resolve());
      socket.on("error", reject);
    });
    const lines = await until(
      "the hung-up request's log line",
      async () => {
        const found = broker.services.logs.lines.filter((l) => (l.req as { clientRequestId?: string } | undefined)?.clientRequestId === "trace-hangup-1");
        return found.length > 0 && found;
      },
      1_000,
    ).catch(() => []);
    assert.deepEqual(
      lines.map((l) => [l.msg, l.level]),
      [["request aborted", 30]],
      "one info line, no 503 and no 'backing service unavailable'",
    );
  });

  it("discovery and JWKS carry an ETag and answer a matching If-None-Match with 304; HEAD answers headers only", async () => {
    for (const path of ["/oauth/jwks", "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]) {
      const first = await send(broker.url, { path });
      assert.equal(first.status, 200, path);
      const etag = String(first.headers.etag);
      assert.match(etag, /^W\/"/, `${path} has a weak ETag`);
      assert.equal(first.headers["cache-control"], "public, max-age=300");
      assert.equal(first.headers["access-control-allow-origin"], "*");
      const again = await send(broker.url, { path, headers: { "if-none-match": etag } });
      assert.equal(again.status, 304, path);
      assert.equal(again.text, "");
      const head = await send(broker.url, { path, method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.text, "");
      assert.equal(head.headers["content-length"], first.headers["content-length"]);
    }
    assert.equal((await send(broker.url, { path: "/.well-known/openid-configuration", headers: { "if-none-match": 'W/"other"' } })).status, 200);
  });

  it("health probes are answered and not logged", async () => {
    const before = broker.services.logs.lines.length;
    for (const path of ["/healthz", "/readyz", "/HEALTHZ"]) assert.equal((await send(broker.url, { path })).status, 200, path);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(
      broker.services.logs.lines.slice(before).filter((l) =>
        String((l.req as { url?: string } | undefined)?.url ?? "")
          .toLowerCase()
          .includes("z"),
      ),
      [],
    );
  });
});
