/**
 * JWKS and discovery throughput (issue 9): `GET /oauth/jwks` and
 * `GET /.well-known/openid-configuration` at the broker, with `/healthz` as
 * the floor of its HTTP server (a direct route, src/http/direct-routes.ts:
 * request id, no work of its own), and the same two documents from node-oidc-provider for
 * reference. Each server in its own process; autocannon in this one.
 *
 * Run: `npm run bench:jwks`. Options as bench/token.ts (BENCH_SECONDS,
 * BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_ROUNDS, BENCH_ONLY, BENCH_NODE_ARGS,
 * BENCH_NO_REPORT).
 */
import { closeSeeding, prepareBroker, startBrokerProcess } from "./lib/broker.js";
import { measureCases, RESULT_HEADER, resultCells, settingsFromEnv, settingsLine, type BenchCase } from "./lib/load.js";
import { startOidcProvider } from "./lib/oidc-provider.js";
import { publish, table } from "./lib/report.js";
import { BENCH_CONNECTOR } from "./lib/seed.js";

async function main(): Promise<void> {
  const settings = settingsFromEnv();
  const setup = await prepareBroker({ connectors: { "bench.json": BENCH_CONNECTOR } });
  // The signing key exists before the broker starts, as after any first start.
  await closeSeeding(await setup.openServices());
  const stops: (() => Promise<unknown>)[] = [() => setup.cleanup()];
  try {
    const broker = await startBrokerProcess(setup);
    stops.unshift(() => broker.stop());
    const op = await startOidcProvider("memory");
    stops.unshift(() => op.stop());
    const rows = [
      { server: "broker", path: "/oauth/jwks", name: "broker jwks", url: `${setup.url}/oauth/jwks`, pid: broker.pid, expect: '"keys"' },
      {
        server: "broker",
        path: "/.well-known/openid-configuration",
        name: "broker discovery",
        url: `${setup.url}/.well-known/openid-configuration`,
        pid: broker.pid,
        expect: '"issuer"',
      },
      { server: "broker", path: "/healthz (HTTP floor)", name: "broker healthz", url: `${setup.url}/healthz`, pid: broker.pid, expect: "" },
      { server: "oidc-provider, reference", path: "/jwks", name: "oidc-provider jwks", url: `${op.url}/jwks`, pid: op.pid, expect: '"keys"' },
      {
        server: "oidc-provider, reference",
        path: "/.well-known/openid-configuration",
        name: "oidc-provider discovery",
        url: `${op.url}/.well-known/openid-configuration`,
        pid: op.pid,
        expect: '"issuer"',
      },
    ];
    const cases: BenchCase[] = rows.map((r) => ({
      name: r.name,
      expect: (status, body) => (status === 200 && body.includes(r.expect) ? undefined : `status ${status}`),
      prepare: async () => ({ name: r.name, url: r.url, pid: r.pid }),
    }));
    const results = await measureCases(cases, settings);
    publish({
      section: "JWKS and discovery",
      about:
        "`GET /oauth/jwks` and `GET /.well-known/openid-configuration` at the broker (its own process, LOG_LEVEL=warn), `/healthz` as the floor of its HTTP server (like the two documents, a direct route answered before express), and the same documents from node-oidc-provider for reference. Both documents come from the signing keys cached in memory: no database round trip. Script: bench/jwks.ts.",
      command: "npm run bench:jwks",
      settings: settingsLine(settings),
      body: table(
        ["server", "GET", ...RESULT_HEADER],
        rows.filter((r) => results.has(r.name)).map((r) => [r.server, r.path, ...resultCells(results.get(r.name)!)]),
        ["l", "l", "r", "r", "r", "r", "r"],
      ),
    });
  } finally {
    for (const stop of stops) await stop().catch((err: Error) => process.stderr.write(`cleanup: ${err.message}\n`));
  }
}

await main();
