/**
 * Token endpoint throughput (issue 9): `client_credentials` issuance and
 * `refresh_token` rotation at the broker, side by side in the same run with
 * node-oidc-provider configured for the same grants (bench/lib/oidc-provider-server.ts:
 * client_secret_basic, rotation on every use, ES256 JWT access tokens of
 * 3,600 s), each server in its own process on 127.0.0.1 and the load
 * generator (autocannon) in this one.
 *
 * Refresh rotation needs a fresh refresh token per request: each round
 * pre-mints a pool (the broker's rows written as its grants write them;
 * oidc-provider's through its own models, in its process) and autocannon's
 * setupRequest hook hands out one per request. A run that empties its pool
 * stops early and says so.
 *
 * Run: `npm run bench:token` (needs the local Postgres and Redis of the tests).
 * Options: BENCH_SECONDS (10), BENCH_WARMUP (2), BENCH_CONNECTIONS (16),
 * BENCH_ROUNDS (2), BENCH_REFRESH_POOL (40000 per target and round),
 * BENCH_ONLY (comma-separated case names), BENCH_NODE_ARGS (node flags for
 * the servers, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"), BENCH_NO_REPORT=1.
 */
import { createEmptyDatabase } from "../test/support/db.js";
import { closeSeeding, prepareBroker, startBrokerProcess } from "./lib/broker.js";
import { measureCases, numberFromEnv, RESULT_HEADER, resultCells, settingsFromEnv, settingsLine, type BenchCase } from "./lib/load.js";
import { OP_CLIENT_ID, OP_CLIENT_SECRET, OP_SCOPE, startOidcProvider } from "./lib/oidc-provider.js";
import { publish, table } from "./lib/report.js";
import { BENCH_CONNECTOR, createBenchApp, mintRefreshTokens } from "./lib/seed.js";

const FORM = "application/x-www-form-urlencoded";

/** Hands out each pre-minted refresh token once, as a token request body. */
function pool(tokens: string[]): () => string | undefined {
  let next = 0;
  return () => {
    const token = tokens[next++];
    return token === undefined ? undefined : `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}`;
  };
}

const issuedTokens = (status: number, body: string) => (status === 200 && body.includes('"access_token"') ? undefined : `status ${status}`);

async function main(): Promise<void> {
  const settings = settingsFromEnv();
  const poolSize = numberFromEnv("BENCH_REFRESH_POOL", 40_000);

  const setup = await prepareBroker({ connectors: { "bench.json": BENCH_CONNECTOR } });
  const seeding = await setup.openServices();
  const opDatabase = await createEmptyDatabase();
  const stops: (() => Promise<unknown>)[] = [() => setup.cleanup(), () => opDatabase.drop()];
  try {
    const app = await createBenchApp(seeding);
    const broker = await startBrokerProcess(setup);
    stops.unshift(() => broker.stop());
    const opMemory = await startOidcProvider("memory");
    stops.unshift(() => opMemory.stop());
    const opPostgres = await startOidcProvider("postgres", opDatabase.url);
    stops.unshift(() => opPostgres.stop());
    const opHeaders = { authorization: `Basic ${Buffer.from(`${OP_CLIENT_ID}:${OP_CLIENT_SECRET}`).toString("base64")}`, "content-type": FORM };
    const brokerHeaders = { authorization: app.authorization, "content-type": FORM };
    const brokerToken = `${setup.url}/oauth/token`;

    const rows: { server: string; grant: string; name: string }[] = [
      { server: "broker", grant: "client_credentials", name: "broker client_credentials" },
      { server: "oidc-provider (memory)", grant: "client_credentials", name: "oidc-provider client_credentials" },
      { server: "broker", grant: "refresh_token", name: "broker refresh_token" },
      { server: "oidc-provider (memory)", grant: "refresh_token", name: "oidc-provider refresh_token (memory)" },
      { server: "oidc-provider (postgres)", grant: "refresh_token", name: "oidc-provider refresh_token (postgres)" },
    ];
    const cases: BenchCase[] = [
      {
        name: rows[0]!.name,
        expect: issuedTokens,
        prepare: async () => ({
          name: rows[0]!.name,
          url: brokerToken,
          method: "POST",
          headers: brokerHeaders,
          body: "grant_type=client_credentials&scope=proxy",
          pid: broker.pid,
        }),
      },
      {
        name: rows[1]!.name,
        expect: issuedTokens,
        prepare: async () => ({
          name: rows[1]!.name,
          url: `${opMemory.url}/token`,
          method: "POST",
          headers: opHeaders,
          body: `grant_type=client_credentials&scope=${OP_SCOPE}`,
          pid: opMemory.pid,
        }),
      },
      {
        name: rows[2]!.name,
        expect: issuedTokens,
        prepare: async () => ({
          name: rows[2]!.name,
          url: brokerToken,
          method: "POST",
          headers: brokerHeaders,
          nextBody: pool(await mintRefreshTokens(seeding, app, poolSize)),
          pid: broker.pid,
        }),
      },
      {
        name: rows[3]!.name,
        expect: issuedTokens,
        prepare: async () => ({
          name: rows[3]!.name,
          url: `${opMemory.url}/token`,
          method: "POST",
          headers: opHeaders,
          nextBody: pool(await opMemory.mintRefreshTokens(poolSize)),
          pid: opMemory.pid,
        }),
      },
      {
        name: rows[4]!.name,
        expect: issuedTokens,
        prepare: async () => ({
          name: rows[4]!.name,
          url: `${opPostgres.url}/token`,
          method: "POST",
          headers: opHeaders,
          nextBody: pool(await opPostgres.mintRefreshTokens(poolSize)),
          pid: opPostgres.pid,
        }),
      },
    ];
    const results = await measureCases(cases, settings);
    await closeSeeding(seeding);

    const rate = (name: string) => results.get(name)?.okPerSecond;
    const ratio = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(2)}×` : "n/a");
    const measured = rows.filter((r) => results.has(r.name));
    const brokerCc = rate(rows[0]!.name);
    const brokerRt = rate(rows[2]!.name);
    publish({
      section: "Token endpoint",
      about:
        "`client_credentials` issuance and `refresh_token` rotation at `POST /oauth/token`: the broker (`node bin/authbroker.js serve`, LOG_LEVEL=warn, a fresh database) against node-oidc-provider 9 in the same run, configured for the same work (bench/lib/oidc-provider-server.ts): client_secret_basic, rotation on every use (a reused token revokes its grant), ES256 JWT access tokens (`at+jwt`, 3,600 s, through a default resource indicator). oidc-provider runs twice: with an unbounded in-memory store (no I/O: its best case, not a deployment) and with a Postgres table through `pg` (durable, as the broker is). Its client_credentials tokens are JWTs it never stores, so that figure holds for both. Each refresh request presents a fresh token from a pre-minted pool. Each server in its own process; autocannon in a third; all on the same 2 cores, so the load generator takes a share of the CPU the servers could use. Script: bench/token.ts.",
      command: "npm run bench:token",
      settings: `${settingsLine(settings)} Refresh pools: ${poolSize.toLocaleString("en")} fresh tokens per target and round.`,
      body: [
        table(
          ["server", "grant", "tokens/s", ...RESULT_HEADER.slice(1), "note"],
          measured.map((r) => {
            const result = results.get(r.name)!;
            return [r.server, r.grant, ...resultCells(result), result.exhausted ? "pool ran out: a lower bound" : ""];
          }),
          ["l", "l", "r", "r", "r", "r", "r", "l"],
        ),
        "",
        table(
          ["grant", "broker tokens/s", "vs oidc-provider (memory)", "vs oidc-provider (postgres)", "target"],
          [
            ["client_credentials", brokerCc?.toFixed(0) ?? "n/a", ratio(brokerCc, rate(rows[1]!.name)), "(same as memory)", "≥ 2× and ≥ 2,000/s"],
            ["refresh_token", brokerRt?.toFixed(0) ?? "n/a", ratio(brokerRt, rate(rows[3]!.name)), ratio(brokerRt, rate(rows[4]!.name)), "≥ 2× and ≥ 2,000/s"],
          ],
          ["l", "r", "r", "r", "l"],
        ),
      ].join("\n"),
    });
  } finally {
    for (const stop of stops) await stop().catch((err: Error) => process.stderr.write(`cleanup: ${err.message}\n`));
  }
}

await main();
