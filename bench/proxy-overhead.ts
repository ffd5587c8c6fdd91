/**
 * What the proxy costs: the same small JSON call (GET, bearer token) made
 *   - direct        to the upstream API,
 *   - bare node:http through a bare pass-through written with `node:http`
 *                   (keep-alive `http.Agent`, hop-by-hop headers dropped,
 *                   the app's bearer swapped for a fixed upstream token,
 *                   bodies piped),
 *   - bare undici   the same pass-through with undici's pooled client,
 *   - broker        through the broker's `/v1/proxy`, run as an operator
 *                   runs it (`node bin/authbroker.js serve`, the compiled
 *                   dist/, NODE_ENV=production): JWT signature and revocation, account and scope,
 *                   header policy, path rules, 401 → refresh → retry,
 *                   metrics, audit of every call) for an account of an
 *                   `oauth2` connector whose upstream token is injected,
 *   - broker /healthz the floor of the broker's HTTP server (a direct route
 *                   like the proxy's, no upstream call), for reference,
 * in one run, each server in its own Node process on 127.0.0.1, load from
 * wrk (Debian package `wrk`: C, microsecond latency histograms), rounds
 * interleaved so a burst of load elsewhere hits every target alike.
 *
 * The targets (issue 16) are checked against the faster of the two bare
 * pass-throughs: broker throughput ≥ 80 % of it, p50 added ≤ 0.3 ms, p99 ≤
 * 2× its p99, no errors, broker RSS ≤ 300 MB.
 *
 * Run: `npm run bench:proxy` (the local Postgres and Redis of the tests).
 * Options: BENCH_ROUNDS (2), BENCH_THREADS (1), BENCH_CONNECTIONS (10),
 * BENCH_SECONDS (10), BENCH_WARMUP (2), BENCH_LOG_LEVEL (warn: the broker's
 * per-call info line is left out; info includes it), BENCH_NODE_ARGS (node
 * flags for the broker, e.g. `--cpu-prof`), BENCH_BARE_NODE_ARGS (the same for
 * the upstream and the bare pass-throughs), BENCH_ONLY (comma-separated
 * target names; `broker` takes the BENCH_BASE one too), BENCH_NO_REPORT=1
 * (print only; otherwise the run is filed in docs/benchmarks.md),
 * BENCH_BASE (a git ref: the broker at that commit
 * as one more target, built in a worktree, on the same database and token:
 * an A/B of a change in one run, its rounds interleaved with the others';
 * printed, not filed). On a shared 2-core machine, many short rounds
 * (BENCH_SECONDS=3 BENCH_ROUNDS=8) make the medians of an A/B steadier than
 * two long ones: the machine's speed drifts within minutes.
 */
import { fork, type ChildProcess } from "node:child_process";
import { Agent as HttpAgent, createServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import { Agent as UndiciAgent } from "undici";
import { publish, table } from "./lib/report.js";
import { runWrk, wrkAvailable, type WrkResult, type WrkTarget } from "./lib/wrk.js";
import { checkoutAt, closeSeeding, prepareBroker, startBrokerProcess, type BrokerProcess } from "./lib/broker.js";
import { freePort } from "../test/support/ports.js";
import { connectAccount } from "../src/accounts/accounts.js";
import { issueAccessToken } from "../src/oauth/tokens.js";
import { median, numberFromEnv } from "./lib/load.js";

/** The token the upstream API accepts; the broker holds it sealed as the account's access token. */
const UPSTREAM_TOKEN = "gho_bench_upstream_0123456789abcdef";
const PATH = "/items/42?fields=id,name";
const RESPONSE = JSON.stringify({ id: 42, name: "answer", tags: ["a", "b", "c"], owner: { id: 7, login: "octocat" } });
/** Issue 16's 300 MB, in the MiB the RSS is shown in (300 × 10⁶ bytes = 286 MiB). */
const RSS_LIMIT_MIB = 300e6 / 2 ** 20;

type Role = "upstream" | "bare-http" | "bare-undici";
interface Ready {
  port: number;
}

function ready(message: Ready): void {
  process.send!(message);
}

async function listen(server: ReturnType<typeof createServer>): Promise<void> {
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  ready({ port: (server.address() as { port: number }).port });
}

// ── the upstream: a small JSON API behind a bearer token, and its token endpoint ──

async function runUpstream(): Promise<void> {
  const server = createServer((req, res) => {
    req.resume();
    if (req.url === "/oauth/token") {
      // A refresh answers the same token again: the bench measures calls, not refreshes.
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ access_token: UPSTREAM_TOKEN, token_type: "bearer", expires_in: 3600 }));
      return;
    }
    if (req.headers.authorization !== `Bearer ${UPSTREAM_TOKEN}`) {
      res.writeHead(401, { "content-type": "application/json", "www-authenticate": 'Bearer error="invalid_token"' });
      res.end('{"message":"Bad credentials"}');
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(RESPONSE), "x-ratelimit-remaining": "4999" });
    res.end(RESPONSE);
  });
  await listen(server);
}

// ── the bare pass-throughs: nothing but forwarding ──────────────────────────

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

function forwardedHeaders(headers: IncomingMessage["headers"]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

function upstreamPath(url: string): string {
  return url.startsWith("/v1/proxy") ? url.slice("/v1/proxy".length) : url;
}

async function runBareHttp(upstreamPort: number): Promise<void> {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 64 });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers: OutgoingHttpHeaders = forwardedHeaders(req.headers);
    headers.authorization = `Bearer ${UPSTREAM_TOKEN}`;
    const upstream = httpRequest({ host: "127.0.0.1", port: upstreamPort, agent, method: req.method, path: upstreamPath(req.url!), headers }, (answer) => {
      res.writeHead(answer.statusCode!, forwardedHeaders(answer.headers));
      answer.pipe(res);
    });
    upstream.on("error", () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
    req.pipe(upstream);
  });
  await listen(server);
}

async function runBareUndici(upstreamPort: number): Promise<void> {
  const origin = `http://127.0.0.1:${upstreamPort}`;
  const agent = new UndiciAgent({ connections: 64, keepAliveTimeout: 30_000 });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers = forwardedHeaders(req.headers);
    headers.authorization = `Bearer ${UPSTREAM_TOKEN}`;
    const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    agent
      .request({ origin, path: upstreamPath(req.url!), method: req.method as "GET", headers, body: hasBody ? req : null })
      .then((answer) => {
        res.writeHead(answer.statusCode, forwardedHeaders(answer.headers as IncomingMessage["headers"]));
        answer.body.pipe(res);
      })
      .catch(() => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
  });
  await listen(server);
}

// ── the broker, as an operator runs it ──────────────────────────────────────

/** The connector of the benched account: an oauth2 upstream whose access token the proxy injects. */
function filesConnector(upstream: string) {
  return {
    id: "files",
    name: "Files API",
    auth: {
      kind: "oauth2",
      authorizationUrl: `${upstream}/oauth/authorize`,
      tokenUrl: `${upstream}/oauth/token`,
      clientId: "bench",
      clientSecret: "bench-secret-0123456789",
    },
    scopes: { read: ["files:read"] },
    defaultScopes: ["read"],
    api: { baseUrl: upstream, credentials: "bearer" },
    identity: { url: `${upstream}/me`, subject: "id" },
  };
}

/**
 * `node bin/authbroker.js serve` (the compiled dist/ when it is current, as
 * in production) on a fresh database, seeded first through the broker's own
 * modules: an app, an account connected with upstream tokens, and an
 * account-bound access token for it.
 */
async function startBroker(upstreamPort: number): Promise<{
  process: BrokerProcess;
  port: number;
  token: string;
  /** The broker at BENCH_BASE, when it is set. */
  base?: { process: BrokerProcess; port: number; commit: string };
  cleanup(): Promise<void>;
}> {
  const upstream = `http://127.0.0.1:${upstreamPort}`;
  const setup = await prepareBroker({ connectors: { "files.json": filesConnector(upstream) } });
  const services = await setup.openServices();
  let token: string;
  try {
    const { client } = await services.clients.create({
      name: "Bench",
      redirectUris: ["https://app.example/callback"],
      grantTypes: ["authorization_code"],
      scopes: ["proxy"],
    });
    const { id: accountId } = await connectAccount(services.db, services.keyring, {
      appId: client.id,
      connectorId: "files",
      identity: { subject: "bench-user" },
      scopes: ["files:read"],
      tokens: { accessToken: UPSTREAM_TOKEN, refreshToken: "bench-refresh-token", tokenType: "bearer", expiresAt: new Date(Date.now() + 24 * 3600_000) },
    });
    ({ accessToken: token } = await issueAccessToken(services, {
      client: { id: client.id, accessTokenTtl: 3600 },
      subject: accountId,
      scope: "proxy",
      accountId,
      connectorId: "files",
      ttl: 3600,
    }));
  } finally {
    await closeSeeding(services);
  }
  const broker = await startBrokerProcess(setup);
  // BENCH_BASE: the same broker at another commit, on the same database, keys and token (the issuer is a name, not its port).
  const baseRef = process.env.BENCH_BASE;
  if (!baseRef) return { process: broker, port: setup.port, token, cleanup: () => broker.stop().then(() => setup.cleanup()) };
  const checkout = checkoutAt(baseRef);
  const basePort = await freePort();
  const baseBroker = await startBrokerProcess(setup, "serve", { repo: checkout.repo, port: basePort });
  return {
    process: broker,
    port: setup.port,
    token,
    base: { process: baseBroker, port: basePort, commit: checkout.commit },
    cleanup: async () => {
      await Promise.all([broker.stop(), baseBroker.stop()]);
      checkout.remove();
      await setup.cleanup();
    },
  };
}

// ── the driver ──────────────────────────────────────────────────────────────

function start(role: Role, upstreamPort?: number): Promise<{ child: ChildProcess; ready: Ready }> {
  const child = fork(fileURLToPath(import.meta.url), [role, String(upstreamPort ?? "")], {
    execArgv: ["--import", "tsx", ...(process.env.BENCH_BARE_NODE_ARGS ?? "").split(" ").filter(Boolean)],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.once("message", (message) => resolve({ child, ready: message as Ready }));
    child.once("exit", (code) => reject(new Error(`${role} exited with ${code}`)));
  });
}

function medianOf(runs: WrkResult[]): WrkResult {
  const pick = (key: keyof Omit<WrkResult, "name" | "errors" | "rssPeakMiB" | "max">) => median(runs.map((r) => r[key]));
  return {
    name: runs[0]!.name,
    rps: pick("rps"),
    p50: pick("p50"),
    p90: pick("p90"),
    p99: pick("p99"),
    p999: pick("p999"),
    max: Math.max(...runs.map((r) => r.max)),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    cpuMainUs: pick("cpuMainUs"),
    cpuProcessUs: pick("cpuProcessUs"),
    rssPeakMiB: Math.max(...runs.map((r) => r.rssPeakMiB)),
  };
}

const ms = (us: number) => (us / 1000).toFixed(2);

function render(results: WrkResult[]): { body: string; summary: string } {
  const byName = new Map(results.map((r) => [r.name, r]));
  const bares = ["bare node:http", "bare undici"].map((n) => byName.get(n)).filter((r): r is WrkResult => r !== undefined);
  const reference = bares.sort((a, b) => b.rps - a.rps)[0];
  const broker = byName.get("broker");
  const rows = results.map((r) => [
    r.name,
    r.rps.toFixed(0),
    `${ms(r.p50)} / ${ms(r.p90)} / ${ms(r.p99)} / ${ms(r.p999)}`,
    reference && r !== reference && r.name !== "direct" ? `${((r.rps / reference.rps) * 100).toFixed(0)} %` : "—",
    `${r.cpuMainUs.toFixed(0)} / ${r.cpuProcessUs.toFixed(0)}`,
    `${r.rssPeakMiB.toFixed(0)} MiB`,
    String(r.errors),
  ]);
  const body = [
    table(
      [
        "target",
        "req/s",
        "latency p50 / p90 / p99 / p99.9 (ms)",
        "req/s vs faster bare",
        "server CPU µs/call (main thread / process)",
        "server RSS peak",
        "errors",
      ],
      rows,
    ),
  ];
  let summary = "";
  if (broker && reference) {
    const checks = [
      [`throughput ≥ 80 % of ${reference.name}`, `${((broker.rps / reference.rps) * 100).toFixed(0)} %`, broker.rps >= 0.8 * reference.rps],
      ["p50 added ≤ 0.30 ms", `${ms(broker.p50 - reference.p50)} ms`, broker.p50 - reference.p50 <= 300],
      ["p99 ≤ 2× the bare p99", `${(broker.p99 / reference.p99).toFixed(2)}×`, broker.p99 <= 2 * reference.p99],
      ["0 errors", String(broker.errors), broker.errors === 0],
      [`RSS ≤ 300 MB (${RSS_LIMIT_MIB.toFixed(0)} MiB)`, `${broker.rssPeakMiB.toFixed(0)} MiB`, broker.rssPeakMiB <= RSS_LIMIT_MIB],
    ] as const;
    body.push(
      "",
      table(
        ["target (issue 16)", "broker", "met"],
        checks.map(([what, value, met]) => [what, value, met ? "yes" : "**no**"]),
        ["l", "r", "l"],
      ),
    );
    summary = `broker ${broker.rps.toFixed(0)} req/s = ${((broker.rps / reference.rps) * 100).toFixed(0)} % of ${reference.name}; p50 +${ms(broker.p50 - reference.p50)} ms; p99 ${(broker.p99 / reference.p99).toFixed(2)}×; ${broker.cpuMainUs.toFixed(0)} µs CPU/call`;
  }
  return { body: body.join("\n"), summary };
}

async function main(): Promise<void> {
  if (!(await wrkAvailable())) throw new Error("bench:proxy needs wrk on the PATH (Debian/Ubuntu: apt-get install wrk)");
  const options = {
    threads: numberFromEnv("BENCH_THREADS", 1),
    connections: numberFromEnv("BENCH_CONNECTIONS", 10),
    seconds: numberFromEnv("BENCH_SECONDS", 10),
    warmupSeconds: numberFromEnv("BENCH_WARMUP", 2),
  };
  const roundCount = numberFromEnv("BENCH_ROUNDS", 2);
  const only = process.env.BENCH_ONLY?.split(",").map((s) => s.trim());

  const upstream = await start("upstream");
  const port = upstream.ready.port;
  const [bareHttp, bareUndici, broker] = await Promise.all([start("bare-http", port), start("bare-undici", port), startBroker(port)]);
  const children = [upstream.child, bareHttp.child, bareUndici.child];
  try {
    // The pass-throughs get the app's request as the broker does, its access token included: every proxy parses the same bytes.
    const appRequest = { authorization: `Bearer ${broker.token}` };
    const all: WrkTarget[] = [
      { name: "direct", url: `http://127.0.0.1:${port}${PATH}`, headers: { authorization: `Bearer ${UPSTREAM_TOKEN}` }, pid: upstream.child.pid! },
      {
        name: "bare node:http",
        url: `http://127.0.0.1:${bareHttp.ready.port}/v1/proxy${PATH}`,
        headers: appRequest,
        pid: bareHttp.child.pid!,
      },
      {
        name: "bare undici",
        url: `http://127.0.0.1:${bareUndici.ready.port}/v1/proxy${PATH}`,
        headers: appRequest,
        pid: bareUndici.child.pid!,
      },
      {
        name: "broker",
        url: `http://127.0.0.1:${broker.port}/v1/proxy${PATH}`,
        headers: appRequest,
        pid: broker.process.pid,
      },
      { name: "broker /healthz (reference)", url: `http://127.0.0.1:${broker.port}/healthz`, headers: {}, pid: broker.process.pid },
    ];
    if (broker.base)
      all.splice(4, 0, {
        name: `broker at ${broker.base.commit}`,
        url: `http://127.0.0.1:${broker.base.port}/v1/proxy${PATH}`,
        headers: appRequest,
        pid: broker.base.process.pid,
      });
    const targets = only ? all.filter((t) => only.includes(t.name) || (t.name.startsWith("broker at ") && only.includes("broker"))) : all;
    for (const target of targets) {
      const res = await fetch(target.url, { headers: target.headers });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${target.name}: status ${res.status}`);
    }
    const rounds: WrkResult[][] = targets.map(() => []);
    for (let round = 1; round <= roundCount; round++) {
      for (const [index, target] of targets.entries()) {
        process.stderr.write(`round ${round}/${roundCount}: ${target.name}…\n`);
        rounds[index]!.push(await runWrk(target, options));
      }
    }
    const { body, summary } = render(rounds.map(medianOf));
    process.stderr.write(`${summary}\n`);
    // An A/B against another commit is a development run: printed, not filed.
    if (broker.base) {
      process.stdout.write(`${body}\n`);
      return;
    }
    publish({
      section: "Proxy overhead",
      about:
        "`npm run bench:proxy` (bench/proxy-overhead.ts): the broker's proxy against two bare pass-throughs and the upstream itself, in one run. Runs, newest last:",
      command: "npm run bench:proxy",
      settings: `wrk: ${options.threads} thread, ${options.connections} connections, ${options.seconds} s measured after ${options.warmupSeconds} s of warm-up per target; ${roundCount} interleaved round(s), medians shown (RSS: peak). GET of a ${RESPONSE.length}-byte JSON document, the same request with the broker's access token to the pass-throughs and the broker; the broker's account is an oauth2 connector's, its upstream token injected. Broker log level: ${process.env.BENCH_LOG_LEVEL ?? "warn"}. Each server one Node process; wrk, servers, PostgreSQL and Redis share the machine. CPU: the server's own CPU time over the measured run divided by the answers.`,
      body,
    });
  } finally {
    await broker.cleanup();
    for (const child of children) child.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}

const [role, upstreamPort] = process.argv.slice(2) as [Role | undefined, string | undefined];
// A server role ends when the driver lets go of it (a normal exit: `--cpu-prof` writes its profile).
if (role !== undefined) process.once("disconnect", () => process.exit(0));
if (role === "upstream") await runUpstream();
else if (role === "bare-http") await runBareHttp(Number(upstreamPort));
else if (role === "bare-undici") await runBareUndici(Number(upstreamPort));
else await main();
