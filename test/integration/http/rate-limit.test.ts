/**
 * Rate limits of the front doors (issue 9): per address and per client_id,
 * counted in Redis over a sliding window, answered `429` with `Retry-After`
 * (JSON on the token and device authorization endpoints, an error page on the
 * browser ones), each counter independent of the others, and open again once
 * the wait is over. With Redis gone the limiter lets requests through.
 *
 * Several clients are simulated by source addresses on 127.0.0.0/8.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { startTestBroker, type TestBroker } from "../../support/broker.js";
import { startRedisServer, type TestRedisServer } from "../../support/redis-server.js";
import { basic, form, send, type ReceivedResponse } from "../../support/raw-http.js";
import { CLIENT_ASSERTION_TYPE } from "../../../src/oauth/client-auth.js";
import { RateLimiter } from "../../../src/http/rate-limit.js";
import { createTestServices, type TestServices } from "../../support/services.js";

function tokenRequest(broker: TestBroker, from: string, authorization?: string, params: Record<string, string> = { grant_type: "client_credentials" }) {
  return send(broker.url, { path: "/oauth/token", localAddress: from, ...form(params, authorization ? { authorization } : {}) });
}

function assertRateLimitedJson(res: ReceivedResponse, windowSeconds: number): number {
  assert.equal(res.status, 429, res.text);
  assert.deepEqual(Object.keys(res.json()!).sort(), ["error", "error_description"]);
  assert.equal(res.json<{ error: string }>()!.error, "rate_limited");
  assert.match(String(res.headers["retry-after"]), /^\d+$/);
  const retryAfter = Number(res.headers["retry-after"]);
  assert.ok(retryAfter >= 1 && retryAfter <= 2 * windowSeconds, `Retry-After ${retryAfter} is within two windows`);
  assert.equal(res.headers["cache-control"], "no-store");
  return retryAfter;
}

describe("rate limits per address", () => {
  let broker: TestBroker;
  let clientId: string;
  let secret: string;

  before(async () => {
    broker = await startTestBroker({ env: { RATE_LIMIT_PER_IP: "3", RATE_LIMIT_PER_CLIENT: "0", RATE_LIMIT_WINDOW_SECONDS: "2" } });
    const created = await broker.services.clients.create({
      name: "Limited",
      redirectUris: ["http://127.0.0.1:9/cb"],
      grantTypes: ["client_credentials", "authorization_code"],
      scopes: ["proxy"],
    });
    clientId = created.client.id;
    secret = created.secret!;
  });
  after(async () => broker?.stop());

  it("the request over the limit gets 429, an RFC 6749-shaped error and Retry-After; the ones before reach the token endpoint", async () => {
    for (let i = 0; i < 3; i++) {
      const ok = await tokenRequest(broker, "127.0.0.2", basic(clientId, secret));
      assert.equal(ok.status, 200, ok.text);
    }
    const refused = await tokenRequest(broker, "127.0.0.2", basic(clientId, secret));
    assertRateLimitedJson(refused, 2);
    assert.equal(refused.headers["access-control-allow-origin"], "*", "a browser app can read the refusal");
  });

  it("another address has a budget of its own", async () => {
    const other = await tokenRequest(broker, "127.0.0.3", basic(clientId, secret));
    assert.equal(other.status, 200, other.text);
  });

  it("the window slides on: after Retry-After the address gets through again", async () => {
    for (let i = 0; i < 3; i++) await tokenRequest(broker, "127.0.0.4", basic(clientId, secret));
    const refused = await tokenRequest(broker, "127.0.0.4", basic(clientId, secret));
    const retryAfter = assertRateLimitedJson(refused, 2);
    await new Promise((r) => setTimeout(r, retryAfter * 1000 + 50));
    const again = await tokenRequest(broker, "127.0.0.4", basic(clientId, secret));
    assert.equal(again.status, 200, `after ${retryAfter} s: ${again.text}`);
  });

  it("refused requests are not counted: a client that keeps trying is still let in after the wait", async () => {
    for (let i = 0; i < 3; i++) await tokenRequest(broker, "127.0.0.5", basic(clientId, secret));
    let retryAfter = 0;
    for (let i = 0; i < 20; i++) retryAfter = assertRateLimitedJson(await tokenRequest(broker, "127.0.0.5", basic(clientId, secret)), 2);
    await new Promise((r) => setTimeout(r, retryAfter * 1000 + 50));
    assert.equal((await tokenRequest(broker, "127.0.0.5", basic(clientId, secret))).status, 200);
  });

  it("browser endpoints (authorize, /device, /connect) answer an error page with 429 and Retry-After", async () => {
    for (const path of [`/oauth/authorize?client_id=${clientId}&response_type=code`, "/device", "/connect/callback?state=x&code=y"]) {
      const from = path.startsWith("/device") ? "127.0.0.7" : path.startsWith("/connect") ? "127.0.0.8" : "127.0.0.6";
      for (let i = 0; i < 3; i++) assert.notEqual((await send(broker.url, { path, localAddress: from })).status, 429, path);
      const refused = await send(broker.url, { path, localAddress: from });
      assert.equal(refused.status, 429, `${path}: ${refused.text}`);
      assert.match(String(refused.headers["content-type"]), /^text\/html/);
      assert.match(refused.text, /rate_limited/);
      assert.match(String(refused.headers["retry-after"]), /^[1-4]$/);
      assert.match(String(refused.headers["content-security-policy"]), /frame-ancestors 'none'/, "the page carries the pages' security headers");
    }
  });

  it("each endpoint counts apart, and endpoints without a limit are untouched", async () => {
    for (let i = 0; i < 4; i++) await tokenRequest(broker, "127.0.0.9", basic(clientId, secret));
    const page = await send(broker.url, { path: "/device", localAddress: "127.0.0.9" });
    assert.equal(page.status, 200, "the device page has its own counter");
    for (let i = 0; i < 10; i++) {
      const discovery = await send(broker.url, { path: "/.well-known/openid-configuration", localAddress: "127.0.0.9" });
      assert.equal(discovery.status, 200);
    }
  });

  it("counters live under the broker's key prefix, with an expiry", async () => {
    await tokenRequest(broker, "127.0.0.11", basic(clientId, secret));
    const keys = await broker.services.redis.keys(`${broker.services.config.queuePrefix}:ratelimit:token:ip:127.0.0.11:*`);
    assert.ok(keys.length >= 1, "the address's counter is in Redis");
    for (const key of keys) {
      const ttl = await broker.services.redis.pttl(key);
      assert.ok(ttl > 0 && ttl <= 4_000, `${key} expires after two windows (${ttl} ms)`);
    }
  });

  it("CORS preflights are not counted", async () => {
    for (let i = 0; i < 6; i++) {
      const preflight = await send(broker.url, { method: "OPTIONS", path: "/oauth/token", localAddress: "127.0.0.10" });
      assert.equal(preflight.status, 204);
    }
    assert.equal((await tokenRequest(broker, "127.0.0.10", basic(clientId, secret))).status, 200);
  });
});

describe("rate limits per client", () => {
  let broker: TestBroker;
  const apps: { id: string; secret: string }[] = [];
  let publicApp: string;

  before(async () => {
    broker = await startTestBroker({ env: { RATE_LIMIT_PER_IP: "100", RATE_LIMIT_PER_CLIENT: "3", RATE_LIMIT_WINDOW_SECONDS: "60" } });
    for (const name of ["A", "B"]) {
      const created = await broker.services.clients.create({
        name,
        redirectUris: ["http://127.0.0.1:9/cb"],
        grantTypes: ["client_credentials", "authorization_code"],
        scopes: ["proxy"],
      });
      apps.push({ id: created.client.id, secret: created.secret! });
    }
    publicApp = (await broker.services.clients.create({ name: "Public", redirectUris: ["http://127.0.0.1:9/cb"], isPublic: true, scopes: ["proxy"] })).client
      .id;
  });
  after(async () => broker?.stop());

  it("a client_id is counted across addresses, whichever way it is presented (Basic, client_id, client assertion sub)", async () => {
    const [a] = apps;
    assert.equal((await tokenRequest(broker, "127.0.1.1", basic(a!.id, a!.secret))).status, 200);
    // client_secret_post is refused (wrong method for this client), but it names the client.
    assert.equal(
      (await tokenRequest(broker, "127.0.1.2", undefined, { grant_type: "client_credentials", client_id: a!.id, client_secret: "wrong" })).status,
      401,
    );
    const assertion = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(a!.id).setIssuer(a!.id).sign(new Uint8Array(32));
    assert.equal(
      (
        await tokenRequest(broker, "127.0.1.3", undefined, {
          grant_type: "client_credentials",
          client_assertion_type: CLIENT_ASSERTION_TYPE,
          client_assertion: assertion,
        })
      ).status,
      401,
    );
    const refused = await tokenRequest(broker, "127.0.1.4", basic(a!.id, a!.secret));
    assertRateLimitedJson(refused, 60);
    assert.ok(Number(refused.headers["retry-after"]) > 2, "a minute-long window asks for a longer wait");
  });

  it("another client from the same address is not affected", async () => {
    const [, b] = apps;
    assert.equal((await tokenRequest(broker, "127.0.1.1", basic(b!.id, b!.secret))).status, 200);
  });

  it("the authorize endpoint counts the client_id of its query", async () => {
    const path = `/oauth/authorize?client_id=${publicApp}&response_type=code&redirect_uri=${encodeURIComponent("http://127.0.0.1:9/cb")}`;
    for (let i = 0; i < 3; i++) assert.notEqual((await send(broker.url, { path, localAddress: `127.0.2.${i + 1}` })).status, 429);
    const refused = await send(broker.url, { path, localAddress: "127.0.2.9" });
    assert.equal(refused.status, 429);
    assert.match(String(refused.headers["content-type"]), /^text\/html/);
  });
});

describe("rate limits behind a reverse proxy (TRUST_PROXY_HOPS=1)", () => {
  let broker: TestBroker;
  let clientId: string;
  let secret: string;

  before(async () => {
    broker = await startTestBroker({ env: { RATE_LIMIT_PER_IP: "2", RATE_LIMIT_PER_CLIENT: "0", RATE_LIMIT_WINDOW_SECONDS: "60", TRUST_PROXY_HOPS: "1" } });
    const created = await broker.services.clients.create({ name: "Proxied", redirectUris: [], grantTypes: ["client_credentials"], scopes: ["proxy"] });
    clientId = created.client.id;
    secret = created.secret!;
  });
  after(async () => broker?.stop());

  /** A request as a load balancer on 127.0.0.9 forwards it, having appended the address it saw. */
  const viaProxy = (forwardedFor: string) =>
    send(broker.url, {
      path: "/oauth/token",
      localAddress: "127.0.0.9",
      ...form({ grant_type: "client_credentials" }, { authorization: basic(clientId, secret), "x-forwarded-for": forwardedFor }),
    });

  it("clients behind the same proxy are counted apart, by the address the proxy appended", async () => {
    for (let i = 0; i < 2; i++) assert.equal((await viaProxy("203.0.113.10")).status, 200);
    assertRateLimitedJson(await viaProxy("203.0.113.10"), 60);
    assert.equal((await viaProxy("203.0.113.11")).status, 200, "another client behind the proxy has its own budget");
  });

  it("a client cannot pick a fresh address by sending X-Forwarded-For itself: the proxy's entry is the one counted", async () => {
    assertRateLimitedJson(await viaProxy("198.51.100.1, 203.0.113.10"), 60);
    assertRateLimitedJson(await viaProxy("198.51.100.2, 203.0.113.10"), 60);
  });

  it("the request's log line carries the client's address, not the proxy's", async () => {
    await viaProxy("203.0.113.12");
    const line = broker.services.logs.lines.findLast((l) => (l.req as { url?: string } | undefined)?.url === "/oauth/token");
    assert.equal((line?.req as { remoteAddress?: string }).remoteAddress, "203.0.113.12");
  });
});

describe("requests counted together", () => {
  let services: TestServices;
  before(async () => {
    services = await createTestServices();
    // The limiter counts only on a ready connection (it fails open otherwise).
    if (services.redis.status !== "ready") await new Promise((resolve) => services.redis.once("ready", resolve));
  });
  after(async () => services?.teardown());

  it("a burst that arrives at once is counted exactly, in order, in one Redis call: the first `limit` pass, the rest are refused", async () => {
    const limiter = new RateLimiter(services.redis, 60, services.log);
    const calls: number[] = [];
    const redis = services.redis as unknown as { authbrokerRateLimitTake(...args: unknown[]): Promise<number[]> };
    const take = redis.authbrokerRateLimitTake.bind(redis);
    redis.authbrokerRateLimitTake = (...args: unknown[]) => (calls.push(1), take(...args));
    const key = `test:burst:${Date.now()}`;
    const shared = { key: `${key}:shared`, limit: 3 };
    // Each request is also counted on a counter of its own, which must move only for those let through.
    const decisions = await Promise.all(Array.from({ length: 5 }, (_, i) => limiter.take([shared, { key: `${key}:own${i}`, limit: 10 }])));
    assert.deepEqual(
      decisions.map((d) => d.allowed),
      [true, true, true, false, false],
    );
    const refused = decisions[3]!;
    assert.ok(!refused.allowed && refused.counter.key === shared.key && refused.retryAfterSeconds >= 1);
    assert.equal(calls.length, 1, "one script call for the whole burst");
    const window = Math.floor(Date.now() / 60_000);
    const counts = await services.redis.mget(`${shared.key}:${window}`, ...Array.from({ length: 5 }, (_, i) => `${key}:own${i}:${window}`));
    assert.deepEqual(counts, ["3", "1", "1", "1", null, null], "refused requests are counted nowhere");
  });
});

describe("rate limiting while Redis is down", () => {
  let redis: TestRedisServer;
  let broker: TestBroker;
  let app: { id: string; secret: string };

  before(async () => {
    redis = await startRedisServer();
    broker = await startTestBroker({ env: { REDIS_URL: redis.url, RATE_LIMIT_PER_IP: "1", RATE_LIMIT_PER_CLIENT: "1" } });
    const created = await broker.services.clients.create({ name: "Open", redirectUris: [], grantTypes: ["client_credentials"], scopes: ["proxy"] });
    app = { id: created.client.id, secret: created.secret! };
  });
  after(async () => {
    await redis?.start().catch(() => undefined);
    await broker?.stop();
    await redis?.stop();
  });

  it("fails open: requests pass uncounted and quickly, the outage is logged once, and counting resumes when Redis is back", async () => {
    assert.equal((await tokenRequest(broker, "127.0.3.1", basic(app.id, app.secret))).status, 200);
    assert.equal((await tokenRequest(broker, "127.0.3.1", basic(app.id, app.secret))).status, 429, "limited while Redis counts");
    await redis.stop();
    for (let i = 0; i < 5; i++) {
      const res = await tokenRequest(broker, "127.0.3.1", basic(app.id, app.secret));
      assert.notEqual(res.status, 429, "nothing is counted while Redis is away");
      assert.ok(res.elapsedMs < 2_000, `answered in ${Math.round(res.elapsedMs)} ms`);
    }
    const warnings = broker.services.logs.lines.filter((l) => String(l.msg).startsWith("rate limiting is off"));
    assert.equal(warnings.length, 1, "one warning per outage, not one per request");
    await redis.start();
    const deadline = Date.now() + 10_000;
    let res = await tokenRequest(broker, "127.0.3.2", basic(app.id, app.secret));
    while (res.status !== 429 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      res = await tokenRequest(broker, "127.0.3.2", basic(app.id, app.secret));
    }
    assert.equal(res.status, 429, "counting again once Redis is back");
  });
});
