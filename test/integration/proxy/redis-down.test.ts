/**
 * Revocation is honoured even when it cannot be checked (issue 7): while
 * Redis is unreachable a proxied call fails with 503 and reaches nothing,
 * instead of taking the token as unrevoked; once Redis is back, calls pass
 * again without a restart.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startTestBroker, type TestBroker } from "../../support/broker.js";
import { startRedisServer, type TestRedisServer } from "../../support/redis-server.js";
import { apiKeyCaller, apiKeyConnector, headerCheck, rawRequest, startApiUpstream, type ApiUpstream } from "../../support/api-upstream.js";

const API_KEY = "sk_test_redis_0123";

describe("the proxy while Redis is down", () => {
  let redis: TestRedisServer;
  let broker: TestBroker;
  let api: ApiUpstream;
  let token: string;

  before(async () => {
    redis = await startRedisServer();
    api = await startApiUpstream({ check: headerCheck("X-Api-Key", API_KEY) });
    broker = await startTestBroker({
      env: { REDIS_URL: redis.url },
      connectors: { "acme.json": apiKeyConnector(api) },
    });
    ({ token } = await apiKeyCaller(broker.services, { connectorId: "acme", apiKey: API_KEY, appName: "Redis" }));
  });

  after(async () => {
    await redis?.start().catch(() => undefined);
    await broker?.stop();
    await api?.close();
    await redis?.stop();
  });

  const call = () => rawRequest(broker.url, { path: "/v1/proxy/echo/x", headers: { authorization: `Bearer ${token}` } });

  it("a call that cannot check revocation is refused with 503 and forwards nothing; it passes again once Redis is back", async () => {
    assert.equal((await call()).status, 200, "before");
    await redis.stop();
    const before = api.requests.length;
    const down = await call();
    assert.equal(down.status, 503, down.text);
    assert.equal(down.json<{ error: string }>().error, "service_unavailable");
    assert.equal(down.headers["retry-after"], "5");
    assert.equal(api.requests.length, before, "nothing reached the upstream");
    await redis.start();
    const deadline = Date.now() + 10_000;
    let again = await call();
    while (again.status !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      again = await call();
    }
    assert.equal(again.status, 200, again.text);
  });
});
