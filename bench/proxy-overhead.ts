/**
 * What the proxy costs (issue 7): the same small JSON call made
 *   - direct      to the upstream,
 *   - bare        through a bare Node pass-through proxy written with the
 *                 same HTTP client (undici `request` + keep-alive pool,
 *                 hop-by-hop headers dropped, an API key injected),
 *   - broker      through the broker's /v1/proxy (real composition root:
 *                 JWT verification, revocation check, account cache,
 *                 credential injection, metrics, batched audit),
 *   - and, for reference, the broker's `/healthz`: the floor of its HTTP
 *     server (a direct route like the proxy's, with a request id, no work),
 * in one run, each server in its own process on 127.0.0.1.
 *
 * Two measurements per target:
 *   - throughput: autocannon, N connections, D seconds (after a warm-up);
 *     autocannon's latency histogram has whole-millisecond resolution, so
 *   - latency: a probe of sequential requests on one keep-alive connection,
 *     timed with hrtime (microseconds), at no other load.
 *
 * Run: `npm run bench:proxy` (needs the local Postgres and Redis of the
 * tests). Options: BENCH_ROUNDS (3), BENCH_CONNECTIONS (10), BENCH_SECONDS (5),
 * BENCH_PROBE (3000 requests), BENCH_LOG_LEVEL (warn: the broker's
 * per-request info line is left out; set info to include it),
 * BENCH_NODE_ARGS (extra node flags for the servers, e.g. `--cpu-prof`),
 * BENCH_NO_REPORT=1 (print only). The table is printed and appended to
 * docs/benchmarks.md. The server CPU per request (from /proc, as in
 * bench/lib/load.ts) is the figure to compare between runs: requests/s
 * moves with whatever else the two cores are doing.
 */
import { fork, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { runLoad } from "./lib/load.js";
import { Agent, request } from "undici";

const API_KEY = "sk_bench_0123456789";
const PATH = "/items/42?fields=id,name";
const RESPONSE = JSON.stringify({ id: 42, name: "answer", tags: ["a", "b", "c"], owner: { id: 7, login: "octocat" } });

type Role = "upstream" | "bare" | "broker";
interface Ready {
  port: number;
  token?: string;
}

function ready(message: Ready): void {
  process.send!(message);
}

// ── the upstream: a small JSON API that checks the key ──────────────────────

async function runUpstream(): Promise<void> {
  const server = createServer((req, res) => {
    req.resume();
    if (req.headers["x-api-key"] !== API_KEY) {
      res.writeHead(401, { "content-type": "application/json" });
      res.end('{"message":"Bad credentials"}');
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(RESPONSE), "x-ratelimit-remaining": "4999" });
    res.end(RESPONSE);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  ready({ port: (server.address() as { port: number }).port });
}

// ── the bare pass-through proxy: the same HTTP client, nothing else ─────────

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "transfer-encoding",
  "upgrade",
  "host",
  "authorization",
  "expect",
  "trailer",
]);

async function runBare(upstreamPort: number): Promise<void> {
  const origin = `http://127.0.0.1:${upstreamPort}`;
  const agent = new Agent({ connections: 64, keepAliveTimeout: 30_000 });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    headers["x-api-key"] = API_KEY;
    const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    agent
      .request({ origin, path: req.url!.replace(/^\/v1\/proxy/, ""), method: req.method as "GET", headers, body: hasBody ? req : null })
      .then(async (upstream) => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(upstream.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
        res.writeHead(upstream.statusCode, out);
        await pipeline(upstream.body, res);
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  ready({ port: (server.address() as { port: number }).port });
}

// ── the broker, through its real composition root ───────────────────────────

async function runBroker(upstreamPort: number): Promise<void> {
  const { createTestDatabase } = await import("../test/support/db.js");
  const { freePort } = await import("../test/support/ports.js");
  const { localBrokerEnv } = await import("./lib/broker.js");
  const { loadConfig } = await import("../src/config.js");
  const { createLogger } = await import("../src/log.js");
  const { startBroker } = await import("../src/main.js");
  const { connectAccount } = await import("../src/accounts/accounts.js");
  const { issueAccessToken } = await import("../src/oauth/tokens.js");

  const database = await createTestDatabase();
  const dir = mkdtempSync(join(tmpdir(), "authbroker-bench-"));
  writeFileSync(
    join(dir, "bench.json"),
    JSON.stringify({
      id: "bench",
      name: "Bench API",
      auth: { kind: "api_key", fields: [{ name: "key", label: "API key", secret: true }] },
      api: { baseUrl: `http://127.0.0.1:${upstreamPort}`, credentials: "header:X-Api-Key" },
      identity: { url: `http://127.0.0.1:${upstreamPort}/me`, subject: "id" },
    }),
  );
  const port = await freePort();
  const config = loadConfig({ ...process.env, ...localBrokerEnv({ name: "bench", port, databaseUrl: database.url, connectorsDir: dir }) });
  const broker = await startBroker("serve", config, createLogger(config.logLevel));
  const { services } = broker;
  const { client } = await services.clients.create({ name: "Bench", redirectUris: [], grantTypes: ["client_credentials"], scopes: ["proxy"] });
  const { id: accountId } = await connectAccount(services.db, services.keyring, {
    appId: client.id,
    connectorId: "bench",
    identity: { subject: "bench-user" },
    scopes: [],
    tokens: { fields: { key: API_KEY } },
  });
  const { accessToken } = await issueAccessToken(services, {
    client: { id: client.id, accessTokenTtl: 3600 },
    subject: accountId,
    scope: "proxy",
    accountId,
    connectorId: "bench",
    ttl: 3600,
  });
  process.once("disconnect", () => {
    void broker.stop().finally(() => database.drop().finally(() => process.exit(0)));
  });
  ready({ port, token: accessToken });
}

// ── the driver ──────────────────────────────────────────────────────────────

function start(role: Role, upstreamPort?: number): Promise<{ child: ChildProcess; ready: Ready }> {
  const child = fork(fileURLToPath(import.meta.url), [role, String(upstreamPort ?? "")], {
    execArgv: ["--import", "tsx", ...(process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean)],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.once("message", (message) => resolve({ child, ready: message as Ready }));
    child.once("exit", (code) => reject(new Error(`${role} exited with ${code}`)));
  });
}

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  /** The server process answering it (its CPU time per request is measured). */
  pid: number;
}

interface Measured {
  name: string;
  rps: number;
  acP50: number;
  acP99: number;
  probeP50: number;
  probeP99: number;
  errors: number;
  /** Server CPU µs per request during the load: main thread, whole process. */
  cpuMainUs: number;
  cpuProcessUs: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Sequential requests on one keep-alive connection; durations in µs. */
async function probe(target: Target, count: number): Promise<number[]> {
  const agent = new Agent({ connections: 1, keepAliveTimeout: 30_000 });
  const durations: number[] = [];
  try {
    for (let i = 0; i < count + 200; i++) {
      const started = process.hrtime.bigint();
      const res = await request(target.url, { headers: target.headers, dispatcher: agent });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`${target.name}: status ${res.statusCode}`);
      if (i >= 200) durations.push(Number(process.hrtime.bigint() - started) / 1000);
    }
  } finally {
    await agent.close();
  }
  return durations.sort((a, b) => a - b);
}

async function measure(target: Target, connections: number, seconds: number, probeCount: number): Promise<Measured> {
  const durations = await probe(target, probeCount);
  // 2 s of warm-up first: JIT, pools, caches.
  const result = await runLoad({ name: target.name, url: target.url, headers: target.headers, pid: target.pid }, { connections, seconds, warmupSeconds: 2 });
  return {
    name: target.name,
    rps: result.rps,
    acP50: result.p50,
    acP99: result.p99,
    probeP50: percentile(durations, 50),
    probeP99: percentile(durations, 99),
    errors: result.errors + result.non2xx,
    cpuMainUs: result.cpuPerRequest.mainThreadUs,
    cpuProcessUs: result.cpuPerRequest.processUs,
  };
}

async function main(): Promise<void> {
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
  const seconds = Number(process.env.BENCH_SECONDS ?? 5);
  const probeCount = Number(process.env.BENCH_PROBE ?? 3000);
  const roundCount = Number(process.env.BENCH_ROUNDS ?? 3);

  const upstream = await start("upstream");
  const bare = await start("bare", upstream.ready.port);
  const broker = await start("broker", upstream.ready.port);
  const children = [upstream.child, bare.child, broker.child];
  try {
    const targets: Target[] = [
      { name: "direct", url: `http://127.0.0.1:${upstream.ready.port}${PATH}`, headers: { "x-api-key": API_KEY }, pid: upstream.child.pid! },
      { name: "bare proxy", url: `http://127.0.0.1:${bare.ready.port}/v1/proxy${PATH}`, headers: {}, pid: bare.child.pid! },
      {
        name: "broker",
        url: `http://127.0.0.1:${broker.ready.port}/v1/proxy${PATH}`,
        headers: { authorization: `Bearer ${broker.ready.token}` },
        pid: broker.child.pid!,
      },
      // The ceiling of the broker's HTTP server (a direct route, as the proxy is) with no proxying at all.
      { name: "broker /healthz (reference)", url: `http://127.0.0.1:${broker.ready.port}/healthz`, headers: {}, pid: broker.child.pid! },
    ];
    // Rounds interleave the targets, so a burst of load from elsewhere on the
    // machine hits all of them alike; each figure is the median over rounds.
    const rounds: Measured[][] = targets.map(() => []);
    for (let round = 1; round <= roundCount; round++) {
      for (const [index, target] of targets.entries()) {
        process.stderr.write(`round ${round}/${roundCount}: ${target.name}…\n`);
        rounds[index]!.push(await measure(target, connections, seconds, probeCount));
      }
    }
    const results = rounds.map(medianOf);
    const report = render(results, { connections, seconds, probeCount, roundCount });
    process.stdout.write(`${report}\n`);
    if (!process.env.BENCH_NO_REPORT) appendReport(report);
  } finally {
    for (const child of children) child.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function medianOf(runs: Measured[]): Measured {
  const pick = (key: keyof Omit<Measured, "name">) => median(runs.map((r) => r[key]));
  return {
    name: runs[0]!.name,
    rps: pick("rps"),
    acP50: pick("acP50"),
    acP99: pick("acP99"),
    probeP50: pick("probeP50"),
    probeP99: pick("probeP99"),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    cpuMainUs: pick("cpuMainUs"),
    cpuProcessUs: pick("cpuProcessUs"),
  };
}

function render(results: Measured[], run: { connections: number; seconds: number; probeCount: number; roundCount: number }): string {
  const [direct, bare, broker, stack] = results as [Measured, Measured, Measured, Measured];
  const us = (n: number) => `${n.toFixed(0)} µs`;
  const rows = results.map((r) =>
    [
      r.name,
      r.rps.toFixed(0),
      `${r.acP50} / ${r.acP99} ms`,
      `${us(r.probeP50)} / ${us(r.probeP99)}`,
      r === direct ? "—" : `${us(r.probeP50 - direct.probeP50)} / ${us(r.probeP99 - direct.probeP99)}`,
      r === direct ? "—" : `${((r.rps / direct.rps) * 100).toFixed(0)} %`,
      r === broker || r === stack ? `${((r.rps / bare.rps) * 100).toFixed(0)} %` : "—",
      `${r.cpuMainUs.toFixed(0)} / ${r.cpuProcessUs.toFixed(0)}`,
      String(r.errors),
    ].join(" | "),
  );
  const machine = `${availableParallelism()} × ${cpus()[0]?.model.trim() ?? "cpu"}, Node ${process.version}, ${process.platform}, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")} at the end of the run`;
  return [
    `### Proxy overhead — ${new Date().toISOString().slice(0, 10)}`,
    "",
    `Machine: ${machine} (nproc ${availableParallelism()}). Load: autocannon, ${run.connections} connections, ${run.seconds} s after a 2 s warm-up. Latency probe: ${run.probeCount} sequential requests on one keep-alive connection, no other load from the bench. Medians of ${run.roundCount} interleaved rounds. Broker log level: ${process.env.BENCH_LOG_LEVEL ?? "warn"}. Each server in its own process; client, proxy and upstream share the machine.`,
    "",
    "| target | req/s | autocannon p50 / p99 | probe p50 / p99 | added p50 / p99 vs direct | req/s vs direct | req/s vs bare proxy | server CPU µs/request (main thread / process) | errors |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((row) => `| ${row} |`),
    "",
    `Broker vs bare proxy: +${us(broker.probeP50 - bare.probeP50)} p50, +${us(broker.probeP99 - bare.probeP99)} p99, ${((broker.rps / bare.rps) * 100).toFixed(0)} % of its throughput (targets: ≤ 1 ms p50 added, ≥ 80 %). The broker's HTTP floor (/healthz: a direct route, no upstream call) serves ${stack.rps.toFixed(0)} req/s, ${((stack.rps / bare.rps) * 100).toFixed(0)} % of the bare proxy's.`,
  ].join("\n");
}

/** Adds the run at the end of the "Proxy overhead" section of docs/benchmarks.md (created if missing). */
function appendReport(report: string): void {
  const file = fileURLToPath(new URL("../docs/benchmarks.md", import.meta.url));
  const heading = "## Proxy overhead";
  let text = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  if (!text.includes(heading)) text = `${text.trimEnd()}\n\n${heading}\n\n\`npm run bench:proxy\` (bench/proxy-overhead.ts). Runs, newest last:\n`;
  const start = text.indexOf(heading);
  const next = text.indexOf("\n## ", start + heading.length);
  const end = next === -1 ? text.length : next;
  text = `${text.slice(0, end).trimEnd()}\n\n${report}\n${next === -1 ? "" : `\n${text.slice(end + 1)}`}`;
  writeFileSync(file, text);
}

const [role, upstreamPort] = process.argv.slice(2) as [Role | undefined, string | undefined];
if (role === "upstream") await runUpstream();
else if (role === "bare") await runBare(Number(upstreamPort));
else if (role === "broker") await runBroker(Number(upstreamPort));
else await main();
