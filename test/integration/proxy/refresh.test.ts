/**
 * Upstream 401s and expired credentials (issue 7): a 401 is followed by one
 * refresh through the shared single-flight path and one retry, when the
 * request body can be sent again; N concurrent calls that all meet the 401
 * make one upstream refresh; a streamed body's 401 is passed back; expired
 * credentials are refreshed before the call; a refused refresh token means
 * 409 account_needs_reauth.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { reserveBrokerUrl, startTestBroker, type TestBroker } from "../../support/broker.js";
import { OCTOCAT, startOAuth2Upstream, type OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { connectTestAccount, registerTestApp, type TestApp } from "../../support/flow.js";
import { bearerCheck, rawRequest, startApiUpstream, type ApiUpstream } from "../../support/api-upstream.js";
import { flushProxyAudit } from "../../../src/proxy/router.js";
import { PROXY_AUDIT_ACTION } from "../../../src/proxy/audit.js";

describe("upstream 401 and expired credentials", () => {
  let broker: TestBroker;
  let github: OAuth2Upstream;
  /** An API that trusts the GitHub-like server's tokens and can refuse a valid one. */
  let api: ApiUpstream;
  let app: TestApp;

  before(async () => {
    const reserved = await reserveBrokerUrl();
    github = await startOAuth2Upstream({
      clients: [{ client_id: "b", client_secret: "b-secret-0123456789", redirect_uris: [reserved.callbackUrl("gh"), reserved.callbackUrl("gh-api")] }],
    });
    api = await startApiUpstream({ check: bearerCheck((token) => github.issuedAccessTokens().includes(token)) });
    const gh = (id: string, baseUrl: string) => ({
      id,
      name: `GitHub-like ${id}`,
      auth: { kind: "oauth2", authorizationUrl: github.authorizationUrl, tokenUrl: github.tokenUrl, clientId: "b", clientSecret: "b-secret-0123456789" },
      scopes: { user: ["read:user"] },
      defaultScopes: ["user"],
      api: { baseUrl, credentials: "bearer" },
      identity: { url: github.userUrl, subject: "id", email: "email", name: "name" },
    });
    broker = await startTestBroker({ port: reserved.port, connectors: { "gh.json": gh("gh", github.apiUrl), "gh-api.json": gh("gh-api", api.url) } });
    app = await registerTestApp(broker);
  });

  after(async () => {
    await broker?.stop();
    await Promise.all([github?.close(), api?.close()]);
  });

  const refreshes = () => github.stats.tokenByGrant.refresh_token ?? 0;

  /** A new account for each test: another upstream user (the same user again would update the same account). */
  let nextUserId = 5000;
  const connect = (connector: string) => {
    nextUserId += 1;
    github.setUser({ ...OCTOCAT, id: nextUserId, login: `user${nextUserId}` });
    return connectTestAccount(app, connector);
  };

  const call = (token: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}) =>
    rawRequest(broker.url, { method: init.method, path: `/v1/proxy${path}`, headers: { authorization: `Bearer ${token}`, ...init.headers }, body: init.body });

  it("an upstream 401 is followed by one refresh and one retry, and the app sees only the success", async () => {
    const { tokens } = await connect("gh");
    github.expireAccessTokens();
    const [refreshesBefore, apiBefore] = [refreshes(), github.stats.api];
    const res = await call(tokens.access_token, "/user/repos");
    assert.equal(res.status, 200, res.text);
    assert.equal(refreshes() - refreshesBefore, 1, "one upstream refresh");
    assert.equal(github.stats.api - apiBefore, 2, "the refused call and its one retry");
    await flushProxyAudit(broker.services);
    const event = await broker.services.db.auditEvent.findFirst({ where: { action: PROXY_AUDIT_ACTION, requestId: String(res.headers["x-request-id"]) } });
    assert.deepEqual(event?.detail, { method: "GET", path: "/user/repos", status: 200, retried: true });
  });

  it("ten concurrent calls that all meet the 401 make exactly one upstream refresh, and all succeed", async () => {
    const { tokens } = await connect("gh");
    github.expireAccessTokens();
    github.setTokenDelay(200);
    const refreshesBefore = refreshes();
    try {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => call(tokens.access_token, `/items/${i}`)));
      assert.deepEqual(
        results.map((r) => r.status),
        Array(10).fill(200),
      );
    } finally {
      github.setTokenDelay(0);
    }
    assert.equal(refreshes() - refreshesBefore, 1);
  });

  it("a small body is sent again after the refresh, byte for byte", async () => {
    const { tokens } = await connect("gh");
    github.expireAccessTokens();
    const body = JSON.stringify({ text: "é".repeat(2000) });
    const res = await call(tokens.access_token, "/issues", { method: "POST", headers: { "content-type": "application/json" }, body });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ body: string; method: string }>().body, body);
    assert.equal(res.json<{ method: string }>().method, "POST");
  });

  for (const [what, headers, body] of [
    ["larger than the replay limit", {}, Buffer.alloc(200 * 1024, 0x61)],
    ["of unknown length (chunked)", { "transfer-encoding": "chunked" }, Buffer.from("small but streamed")],
  ] as const) {
    it(`a 401 for a body ${what} is passed back as the upstream sent it, and the next call works`, async () => {
      const { tokens } = await connect("gh");
      github.expireAccessTokens();
      const [refreshesBefore, apiBefore] = [refreshes(), github.stats.api];
      const res = await call(tokens.access_token, "/uploads", { method: "PUT", headers: { "content-type": "application/octet-stream", ...headers }, body });
      assert.equal(res.status, 401);
      assert.deepEqual(res.json(), { message: "Bad credentials" });
      assert.equal(res.headers["www-authenticate"], 'Bearer error="invalid_token"');
      assert.equal(github.stats.api - apiBefore, 1, "not sent twice");
      assert.equal(refreshes() - refreshesBefore, 1, "the credentials were refreshed meanwhile");
      const again = await call(tokens.access_token, "/uploads", { method: "PUT", headers: { "content-type": "application/octet-stream", ...headers }, body });
      assert.equal(again.status, 200, again.text);
      assert.equal(again.json<{ body: string }>().body.length, body.length);
    });
  }

  it("an upstream that refuses a still-valid token once gets one refresh and a retry", async () => {
    const { tokens } = await connect("gh-api");
    const refreshesBefore = refreshes();
    const first = await call(tokens.access_token, "/echo/a");
    assert.equal(first.status, 200, first.text);
    const tokenBefore = first.json<{ headers: Record<string, string> }>().headers.authorization;
    api.rejectNext(1);
    const res = await call(tokens.access_token, "/echo/b");
    assert.equal(res.status, 200, res.text);
    assert.equal(refreshes() - refreshesBefore, 1);
    assert.notEqual(res.json<{ headers: Record<string, string> }>().headers.authorization, tokenBefore, "the retry carried the new token");
  });

  it("a 401 whose body is too large to read is cut, and the retry after the refresh succeeds", async () => {
    const { tokens } = await connect("gh-api");
    const refreshesBefore = refreshes();
    api.rejectNext(1, 1024 * 1024);
    const res = await call(tokens.access_token, "/echo/large-401");
    assert.equal(res.status, 200, res.text);
    assert.equal(refreshes() - refreshesBefore, 1);
    assert.equal(res.json<{ path: string }>().path, "/echo/large-401");
    // The next call works on the pool the cut connection left.
    assert.equal((await call(tokens.access_token, "/echo/after")).status, 200);
  });

  it("a 401 for credentials a 401 just refreshed is passed back without refreshing again", async () => {
    const { tokens } = await connect("gh-api");
    const refreshesBefore = refreshes();
    api.rejectNext(2);
    const res = await call(tokens.access_token, "/echo/forbidden-resource");
    assert.equal(res.status, 401, "the retry's 401 is the upstream's answer");
    api.rejectNext(1);
    assert.equal((await call(tokens.access_token, "/echo/forbidden-resource")).status, 401);
    assert.equal(refreshes() - refreshesBefore, 1, "one refresh, not one per 401");
    assert.equal((await call(tokens.access_token, "/echo/fine")).status, 200);
  });

  it("credentials already expired are refreshed before the call: the upstream never sees the old token", async () => {
    const { tokens, accountId } = await connect("gh");
    await broker.services.db.credential.update({ where: { accountId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    github.expireAccessTokens();
    const [refreshesBefore, apiBefore] = [refreshes(), github.stats.api];
    const res = await call(tokens.access_token, "/user");
    assert.equal(res.status, 200, res.text);
    assert.equal(refreshes() - refreshesBefore, 1);
    assert.equal(github.stats.api - apiBefore, 1, "one upstream call, with the new token");
  });

  it("a refresh token the upstream refuses (invalid_grant) makes it 409 account_needs_reauth", async () => {
    const { tokens, accountId } = await connect("gh");
    github.expireAccessTokens();
    github.failNextToken(400, { error: "invalid_grant", error_description: "revoked" });
    const res = await call(tokens.access_token, "/user");
    assert.equal(res.status, 409, res.text);
    assert.equal(res.json<{ error: string }>().error, "account_needs_reauth");
    const account = await broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } });
    assert.equal(account.status, "needs_reauth");
    const apiBefore = github.stats.api;
    assert.equal((await call(tokens.access_token, "/user")).status, 409, "later calls too, without reaching the upstream");
    assert.equal(github.stats.api, apiBefore);
  });

  it("a refresh that fails for a transient reason is a 502 with the request id", async () => {
    const { tokens } = await connect("gh");
    github.expireAccessTokens();
    github.failNextToken(503, { error: "temporarily_unavailable" });
    const res = await call(tokens.access_token, "/user");
    assert.equal(res.status, 502, res.text);
    const body = res.json<{ error: string; request_id: string }>();
    assert.equal(body.error, "upstream_error");
    assert.equal(body.request_id, res.headers["x-request-id"]);
  });
});
