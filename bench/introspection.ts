/**
 * Introspection throughput (RFC 7662, issue 9): an app's back end asking
 * `POST /oauth/introspect` about its own tokens, with client_secret_basic:
 *   - a client_credentials access token (JWT: signature, claims, one Redis
 *     EXISTS for its revocation key);
 *   - an account-bound access token issued by a refresh (the same, with its
 *     grant's revocation key too);
 *   - a refresh token (one Postgres lookup by hash).
 * For reference, node-oidc-provider introspecting one of its opaque access
 * tokens (an in-memory store lookup; it does not introspect its JWT access
 * tokens, which resource servers verify themselves). Each server in its own
 * process; autocannon in this one.
 *
 * Run: `npm run bench:introspection`. Options as bench/token.ts
 * (BENCH_SECONDS, BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_ROUNDS, BENCH_ONLY,
 * BENCH_NODE_ARGS, BENCH_NO_REPORT).
 */
import { closeSeeding, prepareBroker, startBrokerProcess } from "./lib/broker.js";
import { measureCases, RESULT_HEADER, resultCells, settingsFromEnv, settingsLine, type BenchCase } from "./lib/load.js";
import { OP_CLIENT_ID, OP_CLIENT_SECRET, startOidcProvider } from "./lib/oidc-provider.js";
import { publish, table } from "./lib/report.js";
import { BENCH_CONNECTOR, createBenchApp, mintRefreshTokens } from "./lib/seed.js";

const FORM = "application/x-www-form-urlencoded";

async function tokenResponse(url: string, authorization: string, body: string): Promise<{ access_token: string; refresh_token?: string }> {
  const res = await fetch(url, { method: "POST", headers: { authorization, "content-type": FORM }, body });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { access_token: string; refresh_token?: string };
}

const active = (status: number, body: string) =>
  status === 200 && body.includes('"active":true') ? undefined : `expected an active token, got status ${status}`;

async function main(): Promise<void> {
  const settings = settingsFromEnv();
  const setup = await prepareBroker({ connectors: { "bench.json": BENCH_CONNECTOR } });
  const seeding = await setup.openServices();
  const stops: (() => Promise<unknown>)[] = [() => setup.cleanup()];
  try {
    const app = await createBenchApp(seeding);
    const [seedRefreshToken] = await mintRefreshTokens(seeding, app, 1);
    await closeSeeding(seeding);
    const broker = await startBrokerProcess(setup);
    stops.unshift(() => broker.stop());
    const op = await startOidcProvider("memory");
    stops.unshift(() => op.stop());

    const tokenUrl = `${setup.url}/oauth/token`;
    const appToken = (await tokenResponse(tokenUrl, app.authorization, "grant_type=client_credentials&scope=proxy")).access_token;
    const refreshed = await tokenResponse(tokenUrl, app.authorization, `grant_type=refresh_token&refresh_token=${encodeURIComponent(seedRefreshToken!)}`);
    const opToken = await op.mintAccessToken();

    const introspect = `${setup.url}/oauth/introspect`;
    const brokerHeaders = { authorization: app.authorization, "content-type": FORM };
    const opHeaders = { authorization: `Basic ${Buffer.from(`${OP_CLIENT_ID}:${OP_CLIENT_SECRET}`).toString("base64")}`, "content-type": FORM };
    const rows = [
      {
        server: "broker",
        token: "client_credentials access token (JWT)",
        name: "broker access token (app)",
        url: introspect,
        headers: brokerHeaders,
        body: `token=${appToken}&token_type_hint=access_token`,
        pid: broker.pid,
      },
      {
        server: "broker",
        token: "account access token from a refresh (JWT with grant id)",
        name: "broker access token (account)",
        url: introspect,
        headers: brokerHeaders,
        body: `token=${refreshed.access_token}&token_type_hint=access_token`,
        pid: broker.pid,
      },
      {
        server: "broker",
        token: "refresh token (Postgres lookup)",
        name: "broker refresh token",
        url: introspect,
        headers: brokerHeaders,
        body: `token=${encodeURIComponent(refreshed.refresh_token!)}&token_type_hint=refresh_token`,
        pid: broker.pid,
      },
      {
        server: "oidc-provider (memory), reference",
        token: "opaque access token (store lookup)",
        name: "oidc-provider opaque access token",
        url: `${op.url}/token/introspection`,
        headers: opHeaders,
        body: `token=${opToken}`,
        pid: op.pid,
      },
    ];
    const cases: BenchCase[] = rows.map((r) => ({
      name: r.name,
      expect: active,
      prepare: async () => ({ name: r.name, url: r.url, method: "POST", headers: r.headers, body: r.body, pid: r.pid }),
    }));
    const results = await measureCases(cases, settings);
    publish({
      section: "Introspection",
      about:
        "`POST /oauth/introspect` (RFC 7662) by the app that owns the token, client_secret_basic, the broker as its own process (LOG_LEVEL=warn). Access tokens are JWTs: the broker checks the signature and claims, then one Redis EXISTS over the token's revocation keys (and its grant's, for a token issued under a refresh family). A refresh token is one Postgres lookup by its SHA-256. For reference, node-oidc-provider (in-memory store) introspecting one of its opaque access tokens. Script: bench/introspection.ts.",
      command: "npm run bench:introspection",
      settings: settingsLine(settings),
      body: table(
        ["server", "token introspected", ...RESULT_HEADER],
        rows.filter((r) => results.has(r.name)).map((r) => [r.server, r.token, ...resultCells(results.get(r.name)!)]),
        ["l", "l", "r", "r", "r", "r", "r"],
      ),
    });
  } finally {
    for (const stop of stops) await stop().catch((err: Error) => process.stderr.write(`cleanup: ${err.message}\n`));
  }
}

await main();
