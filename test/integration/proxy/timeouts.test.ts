/**
 * Upstream failures as the app sees them (issue 7): no response headers in
 * time → 504 upstream_timeout; a body that goes silent after the response
 * started → the connection is cut (never a second response); nothing
 * listening → 502 upstream_error; each with the JSON body and request id.
 * An app that goes away mid-download stops the upstream transfer.
 *
 * The broker here mounts the proxy with short timeouts (ProxyOptions), the
 * way the composition root mounts it with the defaults.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { brokerApp } from "../../../src/main.js";
import { listen, type RunningServer } from "../../../src/http/server.js";
import { routeTable } from "../../../src/routes.js";
import { createTestServices, type TestServices } from "../../support/services.js";
import { freePort } from "../../support/ports.js";
import { accountToken, headerCheck, rawRequest, startApiUpstream, storeTestAccount, type ApiUpstream } from "../../support/api-upstream.js";

const API_KEY = "sk_test_timeouts_0123";
const TIMEOUT_MS = 300;

describe("upstream timeouts and failures", () => {
  let services: TestServices;
  let server: RunningServer;
  let api: ApiUpstream;
  let dir: string;
  let brokerUrl: string;
  const tokens: Record<string, string> = {};

  before(async () => {
    api = await startApiUpstream({ check: headerCheck("X-Api-Key", API_KEY) });
    const closedPort = await freePort();
    dir = mkdtempSync(join(tmpdir(), "authbroker-proxy-timeouts-"));
    const connector = (id: string, baseUrl: string) => ({
      id,
      name: `Acme ${id}`,
      auth: { kind: "api_key", fields: [{ name: "key", label: "API key", secret: true }] },
      api: { baseUrl, credentials: "header:X-Api-Key" },
      identity: { url: `${baseUrl}/me`, subject: "id" },
    });
    writeFileSync(join(dir, "acme.json"), JSON.stringify(connector("acme", api.url)));
    writeFileSync(join(dir, "gone.json"), JSON.stringify(connector("gone", `http://127.0.0.1:${closedPort}/api`)));
    const port = await freePort();
    brokerUrl = `http://127.0.0.1:${port}`;
    services = await createTestServices({ BROKER_ISSUER: brokerUrl, CONNECTORS_DIR: dir });
    await services.signingKeys.ensureCurrent();
    server = await listen(brokerApp(services, routeTable(services, { proxy: { headersTimeoutMs: TIMEOUT_MS, bodyTimeoutMs: TIMEOUT_MS } })), port, "127.0.0.1");
    const { client } = await services.clients.create({ name: "Timeouts", redirectUris: [], grantTypes: ["client_credentials"], scopes: ["proxy"] });
    for (const connectorId of ["acme", "gone"]) {
      const accountId = await storeTestAccount(services, { appId: client.id, connectorId, tokens: { fields: { key: API_KEY } } });
      tokens[connectorId] = await accountToken(services, { appId: client.id, accountId, connectorId });
    }
  });

  after(async () => {
    await server?.close(0);
    await services?.teardown();
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const call = (connector: string, path: string) =>
    rawRequest(brokerUrl, { path: `/v1/proxy${path}`, headers: { authorization: `Bearer ${tokens[connector]}` } });

  it("response headers that do not come in time: 504 upstream_timeout with the request id", async () => {
    const started = Date.now();
    const res = await call("acme", "/slow?ms=3000");
    const waited = Date.now() - started;
    assert.equal(res.status, 504, res.text);
    const body = res.json<{ error: string; error_description: string; request_id: string }>();
    assert.equal(body.error, "upstream_timeout");
    assert.equal(body.request_id, res.headers["x-request-id"]);
    assert.ok(waited >= TIMEOUT_MS && waited < 2000, `answered after ${waited} ms`);
  });

  it("a response body that goes silent: the connection is cut, never a second response", async () => {
    const res = await request(`${brokerUrl}/v1/proxy/stall`, { headers: { authorization: `Bearer ${tokens.acme}` } });
    assert.equal(res.statusCode, 200, "the upstream's status was already relayed");
    const started = Date.now();
    let received = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of res.body as AsyncIterable<Buffer>) received += chunk.length;
      })(),
      "the body ends in an error, not in a clean end",
    );
    assert.equal(received, 1024, "what the upstream sent before going silent");
    assert.ok(Date.now() - started < 2000);
  });

  it("nothing listening upstream: 502 upstream_error with the request id", async () => {
    const res = await call("gone", "/things");
    assert.equal(res.status, 502, res.text);
    const body = res.json<{ error: string; error_description: string; request_id: string }>();
    assert.equal(body.error, "upstream_error");
    assert.equal(body.request_id, res.headers["x-request-id"]);
    assert.ok(!/ECONNREFUSED|127\.0\.0\.1/.test(body.error_description), "no internals in the description");
  });

  it("an app that goes away mid-download stops the upstream transfer", async () => {
    const before = api.stats.largeAborted;
    const controller = new AbortController();
    const res = await request(`${brokerUrl}/v1/proxy/large?bytes=${500 * 1024 * 1024}`, {
      headers: { authorization: `Bearer ${tokens.acme}` },
      signal: controller.signal,
    });
    assert.equal(res.statusCode, 200);
    let received = 0;
    await assert.rejects(async () => {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        received += chunk.length;
        if (received > 1024 * 1024) controller.abort();
      }
    });
    const deadline = Date.now() + 3000;
    while (api.stats.largeAborted === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(api.stats.largeAborted, before + 1, "the upstream saw its client go away");
  });

  it("failures are counted by connector and status", async () => {
    const values = (await services.metrics.registry.getSingleMetric("authbroker_proxy_requests_total")!.get()).values;
    assert.ok(values.some((v) => v.labels.connector === "acme" && v.labels.status === "504" && v.value >= 1));
    assert.ok(values.some((v) => v.labels.connector === "gone" && v.labels.status === "502" && v.value >= 1));
  });
});
