/**
 * Outbound rate control (issue 18, docs/proxy.md "Upstream rate limits"):
 * two broker processes (and the test's own broker) on the same Redis,
 * calling upstreams that enforce rate limits of their own.
 *
 * - Under load with `Prefer: wait`, the upstream never sees more than its
 *   limit in a window and never answers 429: the declared limit holds
 *   across processes, calls wait for their slot.
 * - Without `Prefer`, a call over the limit is answered 429
 *   `upstream_rate_limited` with `Retry-After`, counted and audited, and
 *   never reaches the upstream.
 * - An upstream's `X-RateLimit-Remaining: 0` or `Retry-After` seen by one
 *   process holds off the other's calls of that account (and only that
 *   account's, the limit being per account).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Agent } from "node:http";
import { startTestBroker, type TestBroker } from "../../support/broker.js";
import { apiKeyCaller, apiKeyConnector } from "../../support/api-upstream.js";
import { brokerProcessEnv, listeningUrl, startBrokerProcess, type BrokerProcess } from "../../support/broker-process.js";
import { send, type ReceivedResponse } from "../../support/raw-http.js";
import { startRateLimitedUpstream, type RateLimitedUpstream } from "../../support/rate-limited-upstream.js";
import { flushProxyAudit } from "../../../src/proxy/router.js";
import { PROXY_AUDIT_ACTION } from "../../../src/proxy/audit.js";

/** The upstreams' limit: 5 calls per 2 s window, declared as such in the connector files. */
const LIMIT = 5;
const WINDOW_MS = 2_000;
const LOAD_MS = 7_000;

interface Caller {
  accountId: string;
  token: string;
}

describe("upstream rate limits declared by connectors, across broker processes", () => {
  let broker: TestBroker;
  let loaded: RateLimitedUpstream;
  let refusing: RateLimitedUpstream;
  let feeding: RateLimitedUpstream;
  const processes: BrokerProcess[] = [];
  let urls: string[] = [];
  const callers: Record<string, Caller> = {};

  before(async () => {
    loaded = await startRateLimitedUpstream({ limit: LIMIT, windowMs: WINDOW_MS });
    refusing = await startRateLimitedUpstream({ limit: LIMIT, windowMs: WINDOW_MS });
    feeding = await startRateLimitedUpstream({ limit: 1_000, windowMs: 60_000, advertise: true });
    const perConnector = [{ per: "connector", requests: LIMIT, intervalSeconds: WINDOW_MS / 1000 }];
    broker = await startTestBroker({
      env: { PROXY_RATE_LIMIT_MAX_WAIT_MS: "10000" },
      connectors: {
        "loaded.json": {
          ...apiKeyConnector(loaded, { id: "loaded" }),
          api: { baseUrl: loaded.url, credentials: "header:X-Api-Key", rateLimits: perConnector },
        },
        "refusing.json": {
          ...apiKeyConnector(refusing, { id: "refusing" }),
          api: { baseUrl: refusing.url, credentials: "header:X-Api-Key", rateLimits: perConnector },
        },
        "fed.json": {
          ...apiKeyConnector(feeding, { id: "fed" }),
          api: { baseUrl: feeding.url, credentials: "header:X-Api-Key", rateLimits: [{ per: "account", requests: 1_000, intervalSeconds: 60 }] },
        },
      },
    });
    for (const [name, connectorId] of [
      ["loaded", "loaded"],
      ["refusing", "refusing"],
      ["fed-a", "fed"],
      ["fed-b", "fed"],
    ] as const) {
      callers[name] = await apiKeyCaller(broker.services, { connectorId, apiKey: `key-${name}` });
    }
    const env = brokerProcessEnv(broker.services, { PROXY_RATE_LIMIT_MAX_WAIT_MS: "10000" });
    processes.push(...(await Promise.all([startBrokerProcess("serve", env), startBrokerProcess("serve", env)])));
    urls = processes.map(listeningUrl);
  });

  after(async () => {
    for (const p of processes) await p.kill("SIGKILL");
    await broker?.stop();
    await Promise.all([loaded, refusing, feeding].map((u) => u?.close()));
  });

  const call = (base: string, caller: Caller, path: string, headers: Record<string, string> = {}, agent?: Agent): Promise<ReceivedResponse> =>
    send(base, { path: `/v1/proxy${path}`, headers: { authorization: `Bearer ${caller.token}`, ...headers }, agent, timeoutMs: 30_000 });

  it("under load with Prefer: wait, the upstream never sees more than its limit per window and never answers 429", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const statuses = new Map<number, number>();
    let applied = 0;
    const unexpected: string[] = [];
    const deadline = Date.now() + LOAD_MS;
    const worker = async (index: number) => {
      for (let turn = 0; Date.now() < deadline; turn++) {
        const res = await call(urls[(index + turn) % 2]!, callers.loaded!, `/items?w=${index}&t=${turn}`, { prefer: "wait=10" }, agent);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status !== 200) unexpected.push(`${res.status} ${res.text.slice(0, 200)}`);
        if (res.headers["preference-applied"] === "wait=10") applied++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, i) => worker(i)));
    agent.destroy();
    const summary = [...statuses].map(([s, n]) => `${s}×${n}`).join(" ");
    assert.deepEqual(unexpected.slice(0, 5), [], `every call went through (${summary})`);
    assert.equal(loaded.refused, 0, "the upstream never answered 429");
    assert.ok(loaded.maxPerWindow <= LIMIT, `at most ${LIMIT} calls in one of the upstream's windows (saw ${loaded.maxPerWindow})`);
    assert.ok(loaded.arrivals.length >= 2 * LIMIT, `load went through over several windows (${loaded.arrivals.length} calls)`);
    assert.ok(applied > 0, "calls waited, and said so with Preference-Applied");
    console.log(
      `rate limits under load: ${loaded.arrivals.length} calls through two processes in ${LOAD_MS / 1000} s (${summary}), ${applied} waited; ` +
        `most per upstream window ${loaded.maxPerWindow}, in any ${WINDOW_MS} ms ${loaded.maxInAnySpan(WINDOW_MS)}, upstream 429s ${loaded.refused}`,
    );
  });

  it("without Prefer, a call over the limit is answered 429 upstream_rate_limited with Retry-After, counted and audited", async () => {
    const bases = [...urls, broker.url];
    const answers = await Promise.all(Array.from({ length: 3 * LIMIT }, (_, i) => call(bases[i % 3]!, callers.refusing!, `/items?i=${i}`)));
    const ok = answers.filter((r) => r.status === 200);
    const limited = answers.filter((r) => r.status === 429);
    assert.equal(ok.length + limited.length, answers.length, answers.map((r) => r.status).join(" "));
    assert.ok(limited.length >= LIMIT, `calls over the limit were refused (${ok.length} went through)`);
    assert.equal(refusing.refused, 0, "none reached the upstream over its limit");
    assert.equal(refusing.arrivals.length, ok.length, "a refused call never reached the upstream");
    for (const res of limited) {
      const body = res.json<{ error: string; error_description: string; request_id: string }>()!;
      assert.equal(body.error, "upstream_rate_limited");
      assert.match(body.error_description, /try again in \d+ seconds/);
      assert.equal(typeof body.request_id, "string");
      const retryAfter = Number(res.headers["retry-after"]);
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 3, `Retry-After ${res.headers["retry-after"]}`);
    }

    // The test's own broker (every third call): its refusals are counted, with no account id in the labels, and audited with their status.
    const here = answers.filter((_, i) => i % 3 === 2);
    const metric = await broker.services.metrics.proxyRateLimited.get();
    const refusedHere = metric.values.find((v) => v.labels.connector === "refusing" && v.labels.outcome === "refused")?.value ?? 0;
    assert.equal(refusedHere, here.filter((r) => r.status === 429).length, "each refusal of this process counted once");
    assert.ok(
      metric.values.every((v) => Object.keys(v.labels).sort().join() === "connector,outcome"),
      "labelled by connector and outcome only",
    );
    await flushProxyAudit(broker.services);
    for (const res of here) {
      const row = await broker.services.db.auditEvent.findFirst({ where: { action: PROXY_AUDIT_ACTION, requestId: String(res.headers["x-request-id"]) } });
      assert.equal((row?.detail as { status?: number } | undefined)?.status, res.status, "the call is audited with the status the app got");
    }
  });

  it("an upstream's X-RateLimit-Remaining: 0 or Retry-After seen by one process holds off the other's calls of that account", async () => {
    const [first, second] = urls as [string, string];
    const before = feeding.arrivals.length;
    const exhausted = await call(first, callers["fed-a"]!, "/exhaust?seconds=3");
    assert.equal(exhausted.status, 200, "the upstream's answer is relayed as it is");
    assert.equal(exhausted.headers["x-ratelimit-remaining"], "0");

    const held = await call(second, callers["fed-a"]!, "/items");
    assert.equal(held.status, 429, held.text);
    assert.equal(held.json<{ error: string }>()!.error, "upstream_rate_limited");
    const retryAfter = Number(held.headers["retry-after"]);
    assert.ok(retryAfter >= 1 && retryAfter <= 4, `Retry-After ${held.headers["retry-after"]}`);
    assert.equal(feeding.arrivals.length, before + 1, "the held call never reached the upstream");

    const other = await call(second, callers["fed-b"]!, "/items");
    assert.equal(other.status, 200, "another account of the connector is not held: the limit is per account");

    const started = Date.now();
    const waited = await call(second, callers["fed-a"]!, "/items", { prefer: "wait=10" });
    assert.equal(waited.status, 200, waited.text);
    assert.equal(waited.headers["preference-applied"], "wait=10");
    const resetAt = Number(exhausted.headers["x-ratelimit-reset"]) * 1000;
    const arrived = feeding.arrivals.at(-1)!;
    assert.equal(arrived.key, "key-fed-a");
    assert.ok(
      arrived.at >= resetAt - 50,
      `the call waited for the upstream's reset (arrived ${resetAt - arrived.at} ms early; waited ${Date.now() - started} ms)`,
    );

    // A 429 with Retry-After: relayed to the app that met it, and the other process holds off.
    const throttled = await call(first, callers["fed-b"]!, "/throttle?seconds=2");
    assert.equal(throttled.status, 429);
    assert.equal(throttled.json<{ message: string }>()!.message, "slow down", "the upstream's own 429 is relayed");
    const afterThrottle = feeding.arrivals.length;
    const heldAgain = await call(second, callers["fed-b"]!, "/items");
    assert.equal(heldAgain.status, 429);
    assert.equal(heldAgain.json<{ error: string }>()!.error, "upstream_rate_limited");
    assert.equal(feeding.arrivals.length, afterThrottle, "held off without reaching the upstream");

    // A wait longer than the operator allows (PROXY_RATE_LIMIT_MAX_WAIT_MS, 10 s here) is refused at once, whatever the app prefers.
    await call(first, callers["fed-b"]!, "/exhaust?seconds=30", { prefer: "wait=10" });
    const startedLong = Date.now();
    const tooLong = await call(second, callers["fed-b"]!, "/items", { prefer: "wait=60" });
    assert.equal(tooLong.status, 429, tooLong.text);
    assert.ok(Date.now() - startedLong < 5_000, "refused without waiting");
    const retryLong = Number(tooLong.headers["retry-after"]);
    assert.ok(retryLong >= 20 && retryLong <= 31, `Retry-After ${tooLong.headers["retry-after"]}: until the upstream's reset`);
    assert.equal(tooLong.headers["preference-applied"], undefined);
  });
});
