/**
 * The direct routes (src/http/direct-routes.ts): the token, introspection
 * and revocation endpoints and the proxy are answered before express, and
 * must look to clients and operators exactly as express routes do: paths
 * matched as express matches them, the broker's request id echoed (the
 * caller's own only logged beside it), one completion log line per request in pino-http's shape with secrets masked, and a client
 * that hangs up mid-request is no server error.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { startTestBroker, type TestBroker } from "../support/broker.js";
import { basic, form, send } from "../support/raw-http.js";
import { until } from "../support/wait.js";

describe("direct routes", () => {
  let broker: TestBroker;
  let authorization: string;

  before(async () => {
    broker = await startTestBroker();
    const created = await broker.services.clients.create({
      name: "Direct",
      redirectUris: ["http://127.0.0.1:9/cb"],
      grantTypes: ["client_credentials"],
      scopes: ["proxy"],
    });
    authorization = basic(created.client.id, created.secret!);
  });
  after(async () => broker?.stop());

  it("paths are matched as express matches them: any case, one trailing slash, a query string", async () => {
    for (const path of ["/oauth/token", "/OAuth/Token", "/oauth/token/", "/oauth/token?x=1"]) {
      const res = await send(broker.url, { path, ...form({ grant_type: "client_credentials", scope: "proxy" }, { authorization }) });
      assert.equal(res.status, 200, `${path}: ${res.text}`);
    }
    const other = await send(broker.url, { path: "/oauth/tokens", ...form({ grant_type: "client_credentials" }, { authorization }) });
    assert.equal(other.status, 404, "a longer path is not the token endpoint");
    const get = await send(broker.url, { path: "/oauth/token" });
    assert.equal(get.status, 405, "other methods still reach express's answer");
  });

  it("the broker's request id is echoed, and the completion line is pino-http's, with the caller's id beside it and secrets in the URL masked", async () => {
    const res = await send(broker.url, {
      path: "/oauth/token?client_secret=sekrit",
      ...form({ grant_type: "client_credentials", scope: "proxy" }, { authorization, "x-request-id": "trace-direct-1" }),
    });
    assert.equal(res.status, 200, res.text);
    const requestId = String(res.headers["x-request-id"]);
    assert.match(requestId, /^[0-9a-f-]{36}$/, "the broker's own id, not the caller's");
    const line = broker.services.logs.lines.find((l) => (l.req as { id?: string } | undefined)?.id === requestId && l.msg === "request completed");
    assert.ok(line, "one completion line for the request");
    assert.equal((line.req as { clientRequestId?: string }).clientRequestId, "trace-direct-1");
    assert.deepEqual(line.res, { statusCode: 200 });
    assert.equal(typeof line.responseTime, "number");
    assert.equal((line.req as { method: string }).method, "POST");
    assert.doesNotMatch(JSON.stringify(line), /sekrit/);
    assert.doesNotMatch(broker.services.logs.text, /sekrit/);

    // A caller's X-Request-Id that is not a well-formed id is dropped, from the log line too.
    const bad = "trace id;with<markup>";
    const badRes = await send(broker.url, {
      path: "/oauth/token",
      ...form({ grant_type: "client_credentials", scope: "proxy" }, { authorization, "x-request-id": bad }),
    });
    const badLine = broker.services.logs.lines.find(
      (l) => (l.req as { id?: string } | undefined)?.id === badRes.headers["x-request-id"] && l.msg === "request completed",
    );
    assert.ok(badLine);
    assert.equal((badLine.req as { clientRequestId?: string }).clientRequestId, undefined);
    assert.ok(!broker.services.logs.text.includes(bad));
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
