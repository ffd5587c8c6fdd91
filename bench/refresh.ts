/**
 * Background refresh at 10,000 accounts (issues 6 and 9): 10,000 accounts of
 * one oauth2 connector whose upstream credentials expire within the next
 * minute, against a local fake upstream token endpoint, and the broker's
 * refresh worker (`startWorker`, src/worker/run.ts: BullMQ runs the jobs
 * through the single-flight refresh path) in a process of its own (or
 * several: BENCH_WORKERS). Measured: time until every account is refreshed,
 * refreshes/s, the scheduling lag the worker records
 * (authbroker_refresh_schedule_lag_seconds, src/metrics.ts: how late each
 * job started after its planned time), accounts that expired before their
 * refresh, failures (must be 0), and the worker's RSS.
 *
 * The fake upstream (its own process) accepts each refresh token once and
 * rotates it, so a lost or reused refresh token shows as a failure.
 *
 * Run: `npm run bench:refresh` (needs the local Postgres and Redis).
 * Options: BENCH_ACCOUNTS (10000), BENCH_SCHEDULE (queue: the jobs are
 * scheduled through the producer, as connects schedule them, while the
 * workers run; reconciler: the worker's start-up reconciler pass finds and
 * schedules them, as after Redis lost its schedule), BENCH_WORKERS (1 worker process; any
 * number may run against one Postgres and Redis), BENCH_WORKER_CONCURRENCY (32; the
 * broker's default WORKER_CONCURRENCY is 8), BENCH_REFRESH_RATE (100000 per
 * connector per second, i.e. no limit: the capacity is what is measured;
 * the broker's default REFRESH_RATE_PER_CONNECTOR is 20), BENCH_UPSTREAM_DELAY_MS
 * (0: each token response held this long), BENCH_TIMEOUT (600 s),
 * BENCH_NO_REPORT=1.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { connectAccount } from "../src/accounts/accounts.js";
import { closeSeeding, nodeArgsFromEnv, prepareBroker, type BrokerSetup } from "./lib/broker.js";
import { numberFromEnv } from "./lib/load.js";
import { publish, table } from "./lib/report.js";
import { formatMiB, readCpuMs, sampleRss } from "./lib/rss.js";

const CLIENT_ID = "bench-refresh";
const CLIENT_SECRET = `bench-refresh-secret-${"0123456789".repeat(2)}`;
const SEED_PREFIX = "seed-";
/** The bench connector's refresh margin: the broker's default (it sets none). */
const MARGIN_SECONDS = 300;

// ── the fake upstream: a token endpoint that rotates refresh tokens ────────

interface UpstreamStats {
  refreshed: number;
  /** Presented refresh tokens it never issued or already rotated (must stay 0). */
  refused: number;
}

async function runUpstream(delayMs: number): Promise<void> {
  const live = new Set<string>();
  const used = new Set<string>();
  const stats: UpstreamStats = { refreshed: 0, refused: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      const presented = form.get("refresh_token") ?? "";
      const send = (status: number, body: object) => {
        res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
        res.end(JSON.stringify(body));
      };
      const valid = form.get("grant_type") === "refresh_token" && (live.has(presented) || (presented.startsWith(SEED_PREFIX) && !used.has(presented)));
      const answer = () => {
        if (!valid) {
          stats.refused++;
          return send(400, { error: "invalid_grant", error_description: "unknown or used refresh token" });
        }
        live.delete(presented);
        used.add(presented);
        const next = `rt-${randomBytes(24).toString("base64url")}`;
        live.add(next);
        stats.refreshed++;
        send(200, { access_token: `at-${randomBytes(24).toString("base64url")}`, token_type: "bearer", expires_in: 3600, refresh_token: next });
      };
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  process.on("message", () => process.send!({ type: "stats", stats }));
  process.once("disconnect", () => process.exit(0));
  process.send!({ type: "ready", port: (server.address() as { port: number }).port });
}

// ── the worker: startWorker with the lag metric's raw values kept ──────────

interface WorkerReport {
  lagsMs: number[];
  results: Record<string, number>;
}

async function runWorker(env: Record<string, string>): Promise<void> {
  const { loadConfig } = await import("../src/config.js");
  const { createLogger } = await import("../src/log.js");
  const { createServices, closeServices } = await import("../src/compose.js");
  const { startWorker } = await import("../src/worker/run.js");
  const config = loadConfig(env);
  const services = await createServices(config, createLogger(config.logLevel), env);
  // The metric the worker records, observed as it is recorded (the histogram's buckets are too coarse for percentiles).
  const lagsMs: number[] = [];
  const observe = services.metrics.refreshLag.observe.bind(services.metrics.refreshLag);
  services.metrics.refreshLag.observe = ((value: number) => {
    lagsMs.push(value * 1000);
    observe(value);
  }) as typeof services.metrics.refreshLag.observe;
  process.send!({ type: "starting" });
  // As the composition root's preflight does: the Redis client refuses commands until it is connected.
  while (services.redis.status !== "ready") await new Promise((r) => setTimeout(r, 20));
  const worker = await startWorker(services, { reconcileEveryMs: 3_600_000 });
  process.send!({ type: "ready" });
  process.on("message", () => {
    void (async () => {
      const results: Record<string, number> = {};
      for (const { labels, value } of (await services.metrics.refreshes.get()).values)
        results[String(labels.result)] = (results[String(labels.result)] ?? 0) + value;
      process.send!({ type: "report", report: { lagsMs, results } satisfies WorkerReport });
    })();
  });
  process.once("disconnect", () => {
    void worker
      .close()
      .then(() => closeServices(services))
      .finally(() => process.exit(0));
  });
}

// ── the driver ──────────────────────────────────────────────────────────────

function forkRole(role: string, args: string[]): ChildProcess {
  return fork(fileURLToPath(import.meta.url), [role, ...args], {
    execArgv: ["--import", "tsx", ...(role === "worker" ? nodeArgsFromEnv() : [])],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

function nextMessage<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string }) => {
      if (message.type !== type) return;
      child.off("message", onMessage);
      resolve(message as T);
    };
    child.on("message", onMessage);
    child.once("exit", (code) => reject(new Error(`child exited (${code}) before "${type}"`)));
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

/** Creates the accounts through connectAccount (the connect flow's own write), 16 at a time. */
async function createAccounts(setup: BrokerSetup, count: number, options: { withExpiry: boolean }): Promise<string[]> {
  const services = await setup.openServices();
  try {
    const { client } = await services.clients.create({ name: "Bench refresh", redirectUris: ["http://127.0.0.1:9/cb"], scopes: ["proxy", "offline_access"] });
    const ids: string[] = new Array(count);
    let next = 0;
    const farFuture = new Date(Date.now() + 30 * 24 * 3600 * 1000);
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < count) {
          const i = next++;
          const { id } = await connectAccount(services.db, services.keyring, {
            appId: client.id,
            connectorId: "bench-upstream",
            identity: { subject: `user-${i}` },
            scopes: ["read"],
            // Without an expiry an account has no refresh job, and the reconciler leaves it alone.
            tokens: {
              accessToken: `at-seed-${i}`,
              refreshToken: `${SEED_PREFIX}${i}-${randomBytes(8).toString("hex")}`,
              tokenType: "bearer",
              ...(options.withExpiry ? { expiresAt: farFuture } : {}),
            },
          });
          ids[i] = id;
          if (i % 1000 === 999) process.stderr.write(`  ${i + 1} accounts\n`);
        }
      }),
    );
    return ids;
  } finally {
    await closeSeeding(services);
  }
}

async function main(): Promise<void> {
  const accounts = numberFromEnv("BENCH_ACCOUNTS", 10_000);
  const concurrency = numberFromEnv("BENCH_WORKER_CONCURRENCY", 32);
  const workerCount = numberFromEnv("BENCH_WORKERS", 1);
  const scheduleBy = process.env.BENCH_SCHEDULE ?? "queue";
  if (scheduleBy !== "queue" && scheduleBy !== "reconciler") throw new TypeError("BENCH_SCHEDULE must be queue or reconciler");
  const rate = numberFromEnv("BENCH_REFRESH_RATE", 100_000);
  const delayMs = Number(process.env.BENCH_UPSTREAM_DELAY_MS ?? 0);
  const timeoutMs = numberFromEnv("BENCH_TIMEOUT", 600) * 1000;

  const upstream = forkRole("upstream", [String(delayMs)]);
  const { port } = await nextMessage<{ port: number }>(upstream, "ready");
  const upstreamUrl = `http://127.0.0.1:${port}`;
  const setup = await prepareBroker({
    connectors: {
      "bench-upstream.json": {
        id: "bench-upstream",
        name: "Bench upstream",
        auth: {
          kind: "oauth2",
          authorizationUrl: `${upstreamUrl}/authorize`,
          tokenUrl: `${upstreamUrl}/token`,
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
        },
        scopes: { read: ["read"] },
        defaultScopes: ["read"],
        api: { baseUrl: `${upstreamUrl}/api`, credentials: "bearer" },
        identity: { url: `${upstreamUrl}/user`, subject: "id" },
      },
    },
    env: { WORKER_CONCURRENCY: String(concurrency), REFRESH_RATE_PER_CONNECTOR: String(rate) },
  });
  const workers: ChildProcess[] = [];
  try {
    process.stderr.write(`creating ${accounts} accounts…\n`);
    const created = Date.now();
    const ids = await createAccounts(setup, accounts, { withExpiry: scheduleBy === "reconciler" });
    process.stderr.write(`  done in ${((Date.now() - created) / 1000).toFixed(1)} s\n`);

    const services = await setup.openServices();
    const db = services.db;
    /** Every account now expires within the next minute (10 to 70 s from now): inside the default 300 s margin, so every refresh is due at once. */
    const expireSoon = async () => {
      const expiring = await db.$queryRawUnsafe<{ id: string; expiresMs: number }[]>(`
        WITH e AS (SELECT "id", (now() AT TIME ZONE 'UTC') + (10 + random() * 60) * interval '1 second' AS "at" FROM "Account"),
             a AS (UPDATE "Account" SET "credentialExpiresAt" = e."at" FROM e WHERE "Account"."id" = e."id" RETURNING "Account"."id", e."at"),
             c AS (UPDATE "Credential" SET "expiresAt" = e."at" FROM e WHERE "Credential"."accountId" = e."id")
        SELECT "id", (extract(epoch FROM "at") * 1000)::float8 AS "expiresMs" FROM a`);
      const byId = new Map(expiring.map((r) => [r.id, Number(r.expiresMs)]));
      if (byId.size !== ids.length) throw new Error(`expected ${ids.length} expiring accounts, got ${byId.size}`);
      return byId;
    };
    let expiresAt = new Map<string, number>();
    if (scheduleBy === "reconciler") expiresAt = await expireSoon();

    for (let i = 0; i < workerCount; i++) workers.push(forkRole("worker", [JSON.stringify(setup.env)]));
    await Promise.all(workers.map((w) => nextMessage(w, "starting")));
    const rss = workers.map((w) => sampleRss(w.pid!, 500));
    const cpuBefore = workers.map((w) => readCpuMs(w.pid!));
    let startedAt = Date.now();
    // One of them runs the start-up reconciler pass (a Redis lock); the others process meanwhile.
    await Promise.all(workers.map((w) => nextMessage(w, "ready")));
    if (scheduleBy === "queue") {
      // The workers are idle (no account has an expiry yet); now the herd comes due, each job
      // scheduled through the producer as a connect schedules it, 32 at a time.
      startedAt = Date.now();
      expiresAt = await expireSoon();
      const pending = [...expiresAt];
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          for (let next = pending.pop(); next; next = pending.pop()) await services.queues.scheduleRefresh(next[0], new Date(next[1]), 300);
        }),
      );
    }
    const scheduledAt = Date.now();
    process.stderr.write(`all jobs scheduled after ${((scheduledAt - startedAt) / 1000).toFixed(1)} s (${scheduleBy}); refreshing…\n`);

    let done = 0;
    let needsReauth = 0;
    for (;;) {
      const [row] = await db.$queryRawUnsafe<{ done: number; reauth: number }[]>(
        `SELECT count(*) FILTER (WHERE "lastRefreshedAt" >= to_timestamp($1::float8 / 1000) AT TIME ZONE 'UTC')::int AS "done",
                count(*) FILTER (WHERE "status" <> 'active')::int AS "reauth" FROM "Account"`,
        startedAt,
      );
      done = row!.done;
      needsReauth = row!.reauth;
      if (done + needsReauth >= ids.length || Date.now() - startedAt > timeoutMs) break;
      process.stderr.write(`  ${done} refreshed after ${((Date.now() - startedAt) / 1000).toFixed(0)} s\n`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const finishedAt = Date.now();
    const cpuAfter = workers.map((w) => readCpuMs(w.pid!));
    const memory = rss.map((r) => r.stop());

    const refreshedRows = await db.$queryRawUnsafe<{ id: string; refreshedMs: number | null }[]>(
      `SELECT "id", (extract(epoch FROM "lastRefreshedAt") * 1000)::float8 AS "refreshedMs" FROM "Account"`,
    );
    let expiredFirst = 0;
    let firstRefresh = Infinity;
    let lastRefresh = 0;
    /** Per account, from when its refresh was due (the margin before expiry, or the start if that had passed) to its refresh. */
    const dueToRefreshedMs: number[] = [];
    for (const { id, refreshedMs } of refreshedRows) {
      const at = Number(refreshedMs);
      if (at < startedAt) continue;
      firstRefresh = Math.min(firstRefresh, at);
      lastRefresh = Math.max(lastRefresh, at);
      if (at > expiresAt.get(id)!) expiredFirst++;
      dueToRefreshedMs.push(at - Math.max(startedAt, expiresAt.get(id)! - MARGIN_SECONDS * 1000));
    }
    const reports = await Promise.all(
      workers.map(async (w) => {
        const answer = nextMessage<{ report: WorkerReport }>(w, "report");
        w.send("report");
        return (await answer).report;
      }),
    );
    const report: WorkerReport = { lagsMs: reports.flatMap((r) => r.lagsMs), results: {} };
    for (const r of reports) for (const [k, v] of Object.entries(r.results)) report.results[k] = (report.results[k] ?? 0) + v;
    const upstreamStats = await (async () => {
      const answer = nextMessage<{ stats: UpstreamStats }>(upstream, "stats");
      upstream.send("stats");
      return (await answer).stats;
    })();
    await closeSeeding(services);

    const lags = [...report.lagsMs].sort((a, b) => a - b);
    const late = dueToRefreshedMs.sort((a, b) => a - b);
    const total = (finishedAt - startedAt) / 1000;
    const refreshWindow = (lastRefresh - firstRefresh) / 1000;
    const failures = (report.results.failed ?? 0) + (report.results.needs_reauth ?? 0) + needsReauth + upstreamStats.refused;
    const timedOut = done + needsReauth < ids.length;
    const cpuSeconds = cpuBefore.reduce((sum, before, i) => sum + (before && cpuAfter[i] ? (cpuAfter[i]!.processMs - before.processMs) / 1000 : NaN), 0);
    publish({
      section: "Background refresh at 10,000 accounts",
      about:
        "10,000 accounts of one oauth2 connector whose upstream credentials all expire within the next minute (10-70 s), created through the connect flow's own write (connectAccount), against a local fake upstream token endpoint (its own process) that accepts each refresh token once and rotates it. The refresh worker (`startWorker`, src/worker/run.ts) runs in a process of its own; one job per account is scheduled (all due at once, inside the default 300 s margin), by the producer as connects do or by the worker's start-up reconciler pass (the settings say which), and BullMQ runs them through the single-flight refresh path (Redis lock, compare-and-set on the credential version). Lag is the worker's own metric, authbroker_refresh_schedule_lag_seconds (src/metrics.ts). Script: bench/refresh.ts.",
      command: "npm run bench:refresh",
      settings: `${accounts.toLocaleString("en")} accounts; jobs scheduled by ${scheduleBy === "queue" ? "the producer as connects do, 32 at a time, with the workers already running (BENCH_SCHEDULE=queue)" : "the worker's start-up reconciler pass, as after Redis lost its schedule (BENCH_SCHEDULE=reconciler)"}; ${workerCount} worker process${workerCount === 1 ? "" : "es"} (BENCH_WORKERS), each with concurrency ${concurrency} (WORKER_CONCURRENCY; default 8); per-connector refresh rate limit ${rate.toLocaleString("en")}/s (REFRESH_RATE_PER_CONNECTOR; its default of 20/s deliberately spreads a herd out, and would take ${Math.ceil(accounts / 20)} s for this one); upstream answers after ${delayMs} ms. Postgres, Redis, the upstream, the worker and this driver share the machine.`,
      body: [
        table(
          ["figure", "value"],
          [
            [
              "accounts refreshed",
              `${done.toLocaleString("en")} of ${ids.length.toLocaleString("en")}${timedOut ? ` (stopped at the ${timeoutMs / 1000} s limit)` : ""}`,
            ],
            [
              scheduleBy === "queue" ? "time from the first job scheduled to the last refresh" : "time from worker start to the last refresh",
              `${total.toFixed(1)} s`,
            ],
            [
              scheduleBy === "reconciler"
                ? "of which the start-up reconciler pass (schedules every job, soonest expiry first, 500 per Redis round trip; refreshes already run meanwhile)"
                : "of which scheduling every job (the producer, 32 at a time; refreshes already run meanwhile)",
              `${((scheduledAt - startedAt) / 1000).toFixed(1)} s`,
            ],
            ["refreshes/s (first to last refresh)", refreshWindow > 0 ? (done / refreshWindow).toFixed(0) : "n/a"],
            [
              "scheduling lag p50 / p90 / p99 / max (the worker's metric: refresh start − planned time, planned when the job is scheduled)",
              `${(percentile(lags, 50) / 1000).toFixed(2)} / ${(percentile(lags, 90) / 1000).toFixed(2)} / ${(percentile(lags, 99) / 1000).toFixed(2)} / ${((lags.at(-1) ?? NaN) / 1000).toFixed(2)} s (${lags.length.toLocaleString("en")} jobs)`,
            ],
            [
              "due → refreshed, per account, p50 / p90 / p99 / max (from the database: the lag above starts when a job is scheduled, this when the account's refresh was due)",
              `${(percentile(late, 50) / 1000).toFixed(2)} / ${(percentile(late, 90) / 1000).toFixed(2)} / ${(percentile(late, 99) / 1000).toFixed(2)} / ${((late.at(-1) ?? NaN) / 1000).toFixed(2)} s`,
            ],
            ["accounts whose credentials expired before their refresh", String(expiredFirst)],
            ["failures (failed, needs_reauth, refused at the upstream)", String(failures)],
            [
              "worker results",
              Object.entries(report.results)
                .map(([k, v]) => `${k} ${v}`)
                .join(", ") || "none",
            ],
            [
              "worker RSS start → peak → end (each worker)",
              memory.map((m) => `${formatMiB(m.startMiB)} → ${formatMiB(m.peakMiB)} → ${formatMiB(m.endMiB)}`).join("; "),
            ],
            [
              "worker CPU (all workers)",
              Number.isFinite(cpuSeconds) ? `${cpuSeconds.toFixed(1)} s (${((cpuSeconds * 1e6) / Math.max(1, done)).toFixed(0)} µs per refresh)` : "n/a",
            ],
          ],
          ["l", "r"],
        ),
      ].join("\n"),
    });
    if (failures > 0 || timedOut) process.exitCode = 1;
  } finally {
    await Promise.all(
      workers
        .filter((w) => w.exitCode === null)
        .map(async (w) => {
          const exited = new Promise((r) => w.once("exit", r));
          w.disconnect();
          const killer = setTimeout(() => w.kill("SIGKILL"), 15_000);
          await exited;
          clearTimeout(killer);
        }),
    );
    upstream.disconnect();
    await setup.cleanup();
  }
}

const [role, arg] = process.argv.slice(2);
if (role === "upstream") await runUpstream(Number(arg));
else if (role === "worker") await runWorker(JSON.parse(arg!) as Record<string, string>);
else await main();
