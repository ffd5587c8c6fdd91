/**
 * `npm run soak`: a broker process (`node bin/authbroker.js all`: HTTP and
 * the refresh worker) under steady mixed traffic for SOAK_SECONDS (default
 * 600) — client_credentials and refresh_token grants, introspection,
 * userinfo, the accounts API, proxied calls with account-bound and app
 * tokens, discovery and JWKS, and a full connect flow every few seconds —
 * while upstream access tokens expire and the worker refreshes them.
 *
 * Every 10 s it samples the broker's RSS. It fails (exit 1) if any request
 * gets an unexpected answer, or if memory grows by more than
 * SOAK_MAX_GROWTH_MB from the first third of the run after warm-up to the
 * last (medians: RSS swings with every major GC).
 * Everything runs on 127.0.0.1 against the local PostgreSQL and Redis, in a
 * database and a Redis key prefix of its own, removed at the end. Not part
 * of `npm test`.
 *
 *   SOAK_SECONDS=600 SOAK_RATE=250 SOAK_MAX_GROWTH_MB=64 npm run soak
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import * as client from "openid-client";
import { Redis } from "ioredis";
import { loadConfig } from "../src/config.js";
import { callbackPathFor } from "../src/connectors/context.js";
import { createLogger } from "../src/log.js";
import { closeServices, createServices } from "../src/compose.js";
import { createTestDatabase } from "../test/support/db.js";
import { freePort } from "../test/support/ports.js";
import { startOAuth2Upstream } from "../test/support/oauth2-upstream.js";
import { connectTestAccount, gitHubLikeConnector, TEST_APP_REDIRECT, type TestApp } from "../test/support/flow.js";
import { startBrokerProcess } from "../test/support/broker-process.js";
import { basic, send, type ReceivedResponse } from "../test/support/raw-http.js";
import { localBrokerEnv } from "../bench/lib/broker.js";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const RATE = Number(process.env.SOAK_RATE ?? 250);
const MAX_GROWTH_MB = Number(process.env.SOAK_MAX_GROWTH_MB ?? 64);
const CONCURRENCY = 16;
const ACCOUNTS = 16;
const SAMPLE_EVERY_MS = 10_000;
/** Memory settles once pools, caches and JIT are warm; growth is measured after this. */
const WARMUP_MS = Math.max(30_000, SECONDS * 200);
const CONNECT_EVERY_MS = 5_000;

interface Sample {
  atSeconds: number;
  rssMb: number;
  requests: number;
  errors: number;
  p50: number;
  p99: number;
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0;
}

/** Least-squares slope of RSS over time. */
function trendMbPerMinute(samples: Sample[]): number {
  if (samples.length < 2) return 0;
  const xs = samples.map((s) => s.atSeconds / 60);
  const ys = samples.map((s) => s.rssMb);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const num = xs.reduce((sum, x, i) => sum + (x - mx) * (ys[i]! - my), 0);
  const den = xs.reduce((sum, x) => sum + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

async function main(): Promise<number> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const upstream = await startOAuth2Upstream({
    // Upstream access tokens live 2 minutes and are refreshed 60 s before: the worker refreshes all through the run.
    accessTokenTtl: 120,
    clients: [{ client_id: "soak", client_secret: "soak-secret-0123456789", redirect_uris: [`${url}${callbackPathFor("gh")}`] }],
  });
  const database = await createTestDatabase();
  const connectorsDir = mkdtempSync(join(tmpdir(), "authbroker-soak-"));
  writeFileSync(
    join(connectorsDir, "gh.json"),
    JSON.stringify(gitHubLikeConnector(upstream, { client_id: "soak", client_secret: "soak-secret-0123456789" }, { refresh: { marginSeconds: 60 } })),
  );
  const env = localBrokerEnv({ name: "soak", port, databaseUrl: database.url, connectorsDir });
  const prefix = env.BROKER_QUEUE_PREFIX!;

  console.log(
    `soak: ${SECONDS} s at ${RATE} requests/s against ${url} (${cpus().length} CPUs, ${Math.round(totalmem() / 2 ** 30)} GiB); memory bound +${MAX_GROWTH_MB} MB after ${WARMUP_MS / 1000} s of warm-up`,
  );
  const broker = await startBrokerProcess("all", env, { readyUrl: url, readyTimeoutMs: 60_000 });
  const pid = broker.child.pid!;

  const cleanup = async () => {
    await broker.stop(10_000);
    await upstream.close();
    const redis = new Redis(env.REDIS_URL!);
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== "0");
    await redis.quit();
    await database.drop();
    rmSync(connectorsDir, { recursive: true, force: true });
  };

  try {
    // Seed through the broker's own modules, on the same database.
    const services = await createServices(loadConfig(env), createLogger("warn"), env);
    const created = await services.clients.create({
      name: "Soak App",
      redirectUris: [TEST_APP_REDIRECT],
      scopes: ["openid", "email", "profile", "offline_access", "proxy", "accounts:read"],
    });
    await closeServices(services);
    const appId = created.client.id;
    const appSecret = created.secret!;
    const config = await client.discovery(new URL(url), appId, undefined, client.ClientSecretBasic(appSecret), { execute: [client.allowInsecureRequests] });
    const app: TestApp = { id: appId, secret: appSecret, config };

    interface SoakAccount {
      id: string;
      accessToken: string;
      refreshToken: string;
      busy: boolean;
    }
    const accounts: SoakAccount[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      upstream.setUser({ id: 10_000 + i, login: `soak${i}`, email: `soak${i}@example.test`, name: `Soak ${i}` });
      const connected = await connectTestAccount(app, "gh", "openid proxy offline_access accounts:read");
      accounts.push({ id: connected.accountId, accessToken: connected.tokens.access_token, refreshToken: connected.tokens.refresh_token!, busy: false });
    }

    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const form = (body: string, authorization?: string) => ({
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...(authorization ? { authorization } : {}) },
      body,
      agent,
    });
    const appAuth = basic(appId, appSecret);
    const issued = await send(url, { path: "/oauth/token", ...form("grant_type=client_credentials&scope=proxy%20accounts%3Aread", appAuth) });
    let appToken = String(issued.json<{ access_token: string }>()!.access_token);

    const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)]!;
    const ok200 = (res: ReceivedResponse) => res.status === 200;
    /** One kind of request: what it sends and what a correct answer is. */
    const operations: [weight: number, name: string, run: () => Promise<boolean>][] = [
      [
        20,
        "token client_credentials",
        async () => {
          const res = await send(url, { path: "/oauth/token", ...form("grant_type=client_credentials&scope=proxy%20accounts%3Aread", appAuth) });
          if (res.status === 200) appToken = String(res.json<{ access_token: string }>()!.access_token);
          return ok200(res);
        },
      ],
      [
        10,
        "token refresh_token",
        async () => {
          // One user of each broker refresh token at a time: a rotated token is single use.
          const account = accounts.find((a) => !a.busy && Math.random() < 0.3) ?? accounts.find((a) => !a.busy);
          if (!account) return true;
          account.busy = true;
          try {
            const res = await send(url, {
              path: "/oauth/token",
              ...form(`grant_type=refresh_token&refresh_token=${encodeURIComponent(account.refreshToken)}`, appAuth),
            });
            const body = res.json<{ access_token: string; refresh_token: string }>();
            if (res.status === 200 && body) {
              account.accessToken = body.access_token;
              account.refreshToken = body.refresh_token;
            }
            return ok200(res);
          } finally {
            account.busy = false;
          }
        },
      ],
      [
        15,
        "introspect",
        async () => {
          const res = await send(url, { path: "/oauth/introspect", ...form(`token=${encodeURIComponent(pick(accounts).accessToken)}`, appAuth) });
          return ok200(res) && res.json<{ active: boolean }>()?.active === true;
        },
      ],
      [
        20,
        "proxy (account token)",
        async () =>
          ok200(
            await send(url, {
              path: `/v1/proxy/user/repos?page=${Math.floor(Math.random() * 9)}`,
              headers: { authorization: `Bearer ${pick(accounts).accessToken}` },
              agent,
            }),
          ),
      ],
      [
        15,
        "proxy (app token)",
        async () =>
          ok200(
            await send(url, {
              path: `/v1/accounts/${pick(accounts).id}/proxy/user`,
              method: "POST",
              headers: { authorization: `Bearer ${appToken}`, "content-type": "application/json" },
              body: JSON.stringify({ n: Math.random() }),
              agent,
            }),
          ),
      ],
      [
        8,
        "userinfo",
        async () => ok200(await send(url, { path: "/oauth/userinfo", headers: { authorization: `Bearer ${pick(accounts).accessToken}` }, agent })),
      ],
      [7, "accounts API", async () => ok200(await send(url, { path: "/v1/accounts?limit=20", headers: { authorization: `Bearer ${appToken}` }, agent }))],
      [
        5,
        "discovery + JWKS",
        async () => ok200(await send(url, { path: "/.well-known/openid-configuration", agent })) && ok200(await send(url, { path: "/oauth/jwks", agent })),
      ],
    ];
    const totalWeight = operations.reduce((sum, [w]) => sum + w, 0);
    const chooseOperation = () => {
      let roll = Math.random() * totalWeight;
      for (const op of operations) {
        if ((roll -= op[0]) < 0) return op;
      }
      return operations[0]!;
    };

    const failures = new Map<string, number>();
    const examples: string[] = [];
    const counts = new Map<string, number>();
    let requests = 0;
    let errors = 0;
    let latencies: number[] = [];
    const fail = (name: string, detail: string) => {
      errors++;
      failures.set(name, (failures.get(name) ?? 0) + 1);
      if (examples.length < 10) examples.push(`${name}: ${detail}`);
    };
    const started = Date.now();
    const endAt = started + SECONDS * 1000;
    let slot = 0;
    const loop = async () => {
      while (Date.now() < endAt) {
        // Paced: request n starts at n / RATE seconds.
        const due = started + (slot++ * 1000) / RATE;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        if (Date.now() >= endAt) break;
        const [, name, run] = chooseOperation();
        const t0 = performance.now();
        try {
          if (!(await run())) fail(name, "unexpected answer");
        } catch (err) {
          fail(name, (err as Error).message);
        }
        latencies.push(performance.now() - t0);
        requests++;
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
    };
    let connects = 0;
    const connectLoop = async () => {
      while (Date.now() < endAt - CONNECT_EVERY_MS) {
        await new Promise((r) => setTimeout(r, CONNECT_EVERY_MS));
        upstream.setUser({ id: 20_000 + connects, login: `new${connects}`, email: `new${connects}@example.test`, name: `New ${connects}` });
        try {
          await connectTestAccount(app, "gh", "openid proxy offline_access");
          connects++;
        } catch (err) {
          fail("connect flow", (err as Error).message);
        }
      }
    };

    const samples: Sample[] = [];
    const sample = () => {
      const sorted = latencies.sort((a, b) => a - b);
      samples.push({
        atSeconds: Math.round((Date.now() - started) / 1000),
        rssMb: Math.round(rssOf(pid)),
        requests,
        errors,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
      });
      latencies = [];
      const s = samples.at(-1)!;
      console.log(
        `  ${String(s.atSeconds).padStart(4)} s  RSS ${String(s.rssMb).padStart(4)} MB  requests ${String(s.requests).padStart(7)}  errors ${s.errors}  p50 ${s.p50.toFixed(1)} ms  p99 ${s.p99.toFixed(1)} ms`,
      );
    };
    sample();
    const sampler = setInterval(sample, SAMPLE_EVERY_MS);
    await Promise.all([...Array.from({ length: CONCURRENCY }, loop), connectLoop()]);
    clearInterval(sampler);
    sample();
    agent.destroy();

    // RSS swings by tens of MB with each major GC: compare the medians of the first and last thirds after warm-up, not two samples.
    const afterWarmup = samples.filter((s) => s.atSeconds * 1000 >= WARMUP_MS);
    const third = Math.max(1, Math.floor(afterWarmup.length / 3));
    const baseline = median(afterWarmup.slice(0, third).map((s) => s.rssMb));
    const final = median(afterWarmup.slice(-third).map((s) => s.rssMb));
    const growth = final - baseline;
    const slope = trendMbPerMinute(afterWarmup);
    const peak = Math.max(...samples.map((s) => s.rssMb));
    const elapsed = (Date.now() - started) / 1000;
    const refreshes = upstream.stats.tokenByGrant.refresh_token ?? 0;
    console.log("");
    console.log(
      `| duration | requests | rate | errors | connect flows | upstream refreshes | RSS after warm-up (median) | RSS at end (median) | growth | trend | peak |`,
    );
    console.log(`| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |`);
    console.log(
      `| ${Math.round(elapsed)} s | ${requests} | ${Math.round(requests / elapsed)}/s | ${errors} | ${connects} | ${refreshes} | ${baseline} MB | ${final} MB | ${growth >= 0 ? "+" : ""}${growth} MB | ${slope >= 0 ? "+" : ""}${slope.toFixed(1)} MB/min | ${peak} MB |`,
    );
    console.log(`mix: ${[...counts].map(([n, c]) => `${n} ${c}`).join(", ")}`);
    if (errors > 0) console.log(`errors by request: ${[...failures].map(([n, c]) => `${n} ${c}`).join(", ")}\n  ${examples.join("\n  ")}`);
    const passed = errors === 0 && growth <= MAX_GROWTH_MB && afterWarmup.length >= 2;
    console.log(
      passed
        ? "soak passed"
        : `soak FAILED: ${errors} errors, memory ${growth >= 0 ? "+" : ""}${growth} MB (bound ${MAX_GROWTH_MB} MB)${afterWarmup.length < 2 ? ", run too short to measure growth" : ""}`,
    );
    return passed ? 0 : 1;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error("soak failed to run:", err);
    process.exit(1);
  },
);
