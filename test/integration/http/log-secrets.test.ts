/**
 * No secret that passes through a request reaches the log: not from the
 * Authorization header, a cookie, the query string, a JSON or form body, nor
 * from an error that carries one. The broker runs with its real routers at
 * the most verbose level, and every line it writes is searched.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { PUBLIC, route, type Route } from "../../../src/http/route.js";
import { routeTable } from "../../../src/routes.js";
import { listen, type RunningServer } from "../../../src/http/server.js";
import { brokerApp } from "../../../src/main.js";
import { createTestServices, type TestServices } from "../../support/services.js";

/** A secret that cannot appear in a log by chance. */
const secret = (what: string) => `${what}-${randomBytes(16).toString("hex")}`;

/**
 * Routes standing in for code that handles secrets carelessly: one logs the
 * parsed body and query, one fails with an error holding the secret in its
 * properties (as HTTP client errors hold request headers and response bodies).
 */
const probeRoutes: Route[] = [
  route({
    lane: "express",
    method: "POST",
    path: "/probe/echo",
    errors: "api",
    auth: PUBLIC,
    body: "json",
    handle: ({ req, res }) => {
      req.log.info({ body: req.body as unknown, query: req.query, headers: req.headers }, "probe received");
      res.json({ ok: true });
    },
  }),
  route({
    lane: "express",
    method: "POST",
    path: "/probe/fail",
    errors: "api",
    auth: PUBLIC,
    body: "json",
    handle: ({ req }) => {
      const body = req.body as Record<string, string>;
      throw Object.assign(new Error("upstream token endpoint refused"), {
        request: { headers: { authorization: req.headers.authorization }, body },
        response: { status: 400, body: { refresh_token: body.refresh_token } },
        refreshToken: body.refresh_token,
      });
    },
  }),
];

describe("a secret passed through a request never appears in the log", () => {
  let services: TestServices;
  let server: RunningServer;
  const secrets: string[] = [];
  const remember = (what: string) => {
    const s = secret(what);
    secrets.push(s);
    return s;
  };

  before(async () => {
    services = await createTestServices({ LOG_LEVEL: "trace" });
    await services.signingKeys.ensureCurrent();
    server = await listen(brokerApp(services, [...routeTable(services), ...probeRoutes]), 0, "127.0.0.1");
  });
  after(async () => {
    await server.close(0);
    await services.teardown();
  });

  function assertLogClean(): void {
    const text = services.logs.text;
    assert.ok(text.length > 0, "the broker logged something");
    for (const s of secrets) assert.ok(!text.includes(s), `secret ${s.split("-")[0]} appears in the log:\n${text}`);
  }

  it("Authorization header and cookies", async () => {
    const bearer = remember("bearer");
    const cookie = remember("cookie");
    const basic = remember("basic");
    await fetch(`${server.url}/probe/echo`, {
      method: "POST",
      headers: { authorization: `Bearer ${bearer}`, cookie: `ab_session=${cookie}; other=1`, "content-type": "application/json" },
      body: "{}",
    });
    await fetch(`${server.url}/oauth/userinfo`, { headers: { authorization: `Bearer ${bearer}` } });
    await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from(`app_unknown:${basic}`).toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials",
    });
    assertLogClean();
    // The requests were logged, just without their secrets.
    assert.ok(services.logs.lines.some((l) => l.msg === "probe received"));
    assert.ok(services.logs.lines.some((l) => (l.req as { url?: string } | undefined)?.url === "/oauth/token"));
  });

  it("code, client_secret and tokens in the query string", async () => {
    const code = remember("code");
    const clientSecret = remember("clientsecret");
    const accessToken = remember("accesstoken");
    await fetch(`${server.url}/connect/callback?code=${code}&state=st&client_secret=${clientSecret}`);
    await fetch(`${server.url}/oauth/authorize?client_id=app_x&response_type=code&code=${code}&client_secret=${clientSecret}&access_token=${accessToken}`);
    await fetch(`${server.url}/no/such/route?code=${code}&client_secret=${clientSecret}`);
    await fetch(`${server.url}/probe/echo?code=${code}&client_secret=${clientSecret}`, { method: "POST" });
    assertLogClean();
    const urls = services.logs.lines.map((l) => (l.req as { url?: string } | undefined)?.url).filter(Boolean);
    assert.ok(urls.includes(`/connect/callback?code=[redacted]&state=st&client_secret=[redacted]`), urls.join("\n"));
  });

  it("password, client_secret and refresh_token in a JSON or form body", async () => {
    const password = remember("password");
    const clientSecret = remember("clientsecret");
    const refreshToken = remember("refresh");
    const fields = { username: "ada", password, client_secret: clientSecret, refresh_token: refreshToken, nested: { credentials: { password } } };
    await fetch(`${server.url}/probe/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(fields) });
    const form = new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: refreshToken,
      client_id: "app_unknown",
      client_secret: clientSecret,
      password,
    });
    await fetch(`${server.url}/probe/echo`, { method: "POST", body: form });
    await fetch(`${server.url}/oauth/token`, { method: "POST", body: form });
    await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", username: "ada", password, client_id: "app_unknown", client_secret: clientSecret }),
    });
    // A body that is not valid JSON is refused without echoing it.
    await fetch(`${server.url}/probe/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: `{"password": "${password}"` });
    assertLogClean();
    const probe = services.logs.lines.find((l) => l.msg === "probe received" && (l.body as { username?: string } | undefined)?.username === "ada");
    assert.deepEqual(probe?.body, {
      username: "ada",
      password: "[redacted]",
      client_secret: "[redacted]",
      refresh_token: "[redacted]",
      nested: { credentials: "[redacted]" },
    });
  });

  it("a failure whose error carries the secret is logged without it", async () => {
    const bearer = remember("bearer");
    const refreshToken = remember("refresh");
    const res = await fetch(`${server.url}/probe/fail`, {
      method: "POST",
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: JSON.stringify({ refresh_token: refreshToken }),
    });
    assert.equal(res.status, 500);
    const body = (await res.json()) as Record<string, string>;
    assert.equal(body.error, "server_error");
    assert.ok(!JSON.stringify(body).includes(refreshToken));
    assertLogClean();
    const failure = services.logs.lines.find((l) => l.msg === "request failed");
    assert.equal((failure?.err as { message?: string } | undefined)?.message, "upstream token endpoint refused");
  });
});
