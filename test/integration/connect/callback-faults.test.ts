/**
 * The connect callback when something it depends on is gone by the time the
 * upstream sends the end user back: Redis (the connect attempt cannot be
 * read), PostgreSQL (the account cannot be stored), or the connector itself
 * (removed, or changed to a kind without an upstream sign-in page, by a
 * reload during the connect), or the app (deleted during the connect). Each answer says what the end user or the app
 * can do — a pause is `temporarily_unavailable`, never `server_error` — and
 * each is logged at the level an operator needs: a broker failure as an
 * error, a refusal as info.
 *
 * The broker has a Redis server of this file's own and reaches its database
 * through a TCP proxy, so taking either away touches no other test file.
 */
import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as client from "openid-client";
import { reserveBrokerUrl, startTestBroker, type TestBroker } from "../../support/broker.js";
import { TestBrowser } from "../../support/browser.js";
import { createTestDatabase, type TestDatabase } from "../../support/db.js";
import { gitHubLikeConnector, registerTestApp, TEST_APP_REDIRECT, type TestApp } from "../../support/flow.js";
import { startOAuth2Upstream, type OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { startRedisServer, type TestRedisServer } from "../../support/redis-server.js";
import { startTcpProxy, type TcpProxy } from "../../support/tcp-proxy.js";
import { until } from "../../support/wait.js";

const REGISTERED = { client_id: "broker-at-gh", client_secret: "gh-secret-0123456789" };
const toApp = { stopAt: (u: URL) => u.href.startsWith(TEST_APP_REDIRECT) };
/** pino's levels. */
const INFO = 30;
const ERROR = 50;

describe("the connect callback when a dependency is gone", () => {
  let redis: TestRedisServer;
  let database: TestDatabase;
  let proxy: TcpProxy;
  let upstream: OAuth2Upstream;
  let broker: TestBroker;
  let app: TestApp;
  let connectorFile: string;

  before(async () => {
    redis = await startRedisServer();
    database = await createTestDatabase();
    proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(database.url).port || 5432) });
    const proxied = new URL(database.url);
    proxied.port = String(proxy.port);
    const reserved = await reserveBrokerUrl();
    upstream = await startOAuth2Upstream({ clients: [{ ...REGISTERED, redirect_uris: [reserved.callbackUrl("gh")] }] });
    broker = await startTestBroker({
      port: reserved.port,
      env: { REDIS_URL: redis.url, DATABASE_URL: proxied.href },
      connectors: { "gh.json": gitHubLikeConnector(upstream, REGISTERED) },
    });
    connectorFile = join(broker.services.config.connectorsDir, "gh.json");
    app = await registerTestApp(broker);
  });

  after(async () => {
    await redis?.start().catch(() => undefined);
    await proxy?.restore().catch(() => undefined);
    await broker?.stop();
    await upstream?.close();
    await proxy?.close();
    await redis?.stop();
    await database?.drop();
  });

  /** Writes the connector file (`undefined`: removes it) and reloads, as an operator's edit would. */
  async function reconfigure(connector: Record<string, unknown> | undefined): Promise<void> {
    if (connector) writeFileSync(connectorFile, JSON.stringify(connector));
    else rmSync(connectorFile);
    await broker.services.reloadConnectors("test");
  }

  beforeEach(async () => {
    // Every case starts from the connector as configured, whatever the previous one changed.
    await reconfigure(gitHubLikeConnector(upstream, REGISTERED));
    assert.ok(broker.services.connectors.has("gh"));
  });

  /** Starts the app's flow in a fresh browser and stops where the upstream sends it back to the broker's callback. */
  async function atCallback(state: string, of = app): Promise<{ browser: TestBrowser; callback: URL }> {
    const browser = new TestBrowser();
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(of.config, {
      redirect_uri: TEST_APP_REDIRECT,
      scope: "proxy",
      connector: "gh",
      state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
    });
    const page = await browser.navigate(url, { stopAt: (u) => u.pathname.startsWith("/connect/callback/") });
    assert.ok(page.stopped, `stopped at the broker's callback: ${page.url.href}`);
    assert.ok(page.url.searchParams.get("code"), "the upstream sent a code");
    return { browser, callback: page.url };
  }

  /** The log lines of one message written while `run` ran. */
  async function loggedDuring<T>(msg: string, run: () => Promise<T>): Promise<{ result: T; lines: Record<string, unknown>[] }> {
    const before = broker.services.logs.lines.length;
    const result = await run();
    return { result, lines: broker.services.logs.lines.slice(before).filter((line) => line.msg === msg) };
  }

  it("Redis gone: the end user is told it is temporary (503), and the unreadable attempt is logged as an error", async () => {
    const { browser, callback } = await atCallback("st-redis");
    await redis.stop();
    try {
      const { result: page, lines } = await loggedDuring("connect attempt unreadable", () => browser.navigate(callback, toApp));
      assert.equal(page.status, 503);
      assert.match(page.body, /temporarily_unavailable/);
      assert.doesNotMatch(page.body, /server_error/);
      assert.match(page.body, /The broker could not read this sign-in session\. Start again from the app\./);
      assert.equal(lines.length, 1, "one line");
      assert.equal(lines[0]!.level, ERROR);
    } finally {
      await redis.start();
      // The next case needs Redis again: wait until the broker has reconnected (it reconnects on its own).
      await until("the broker to reconnect to Redis", async () => broker.services.redis.status === "ready");
    }
  });

  it("PostgreSQL gone: the app gets temporarily_unavailable with its state, and the failed connect is logged as an error", async () => {
    const { browser, callback } = await atCallback("st-db");
    await proxy.cut();
    try {
      const { result: back, lines } = await loggedDuring("connect failed", () => browser.navigate(callback, toApp));
      assert.equal(back.url.searchParams.get("error"), "temporarily_unavailable", back.url.href);
      assert.equal(back.url.searchParams.get("error_description"), "a backing service is unavailable, try again shortly");
      assert.equal(back.url.searchParams.get("state"), "st-db");
      assert.equal(lines.length, 1, "one line");
      assert.equal(lines[0]!.level, ERROR);
      assert.equal(lines[0]!.connectorId, "gh");
    } finally {
      await proxy.restore();
    }
    assert.equal(await broker.services.db.account.count(), 0, "nothing was connected");
  });

  it("a failure the broker does not explain (the app deleted during the connect) reaches the app as server_error without its details", async () => {
    const doomed = await registerTestApp(broker);
    const { browser, callback } = await atCallback("st-deleted", doomed);
    await broker.services.db.app.delete({ where: { id: doomed.id } });
    const { result: back, lines } = await loggedDuring("connect failed", () => browser.navigate(callback, toApp));
    assert.equal(back.url.searchParams.get("error"), "server_error", back.url.href);
    assert.equal(back.url.searchParams.get("error_description"), "the account could not be connected");
    assert.equal(back.url.searchParams.get("state"), "st-deleted");
    assert.equal(lines.length, 1, "one line");
    assert.equal(lines[0]!.level, ERROR);
  });

  /**
   * Reconfigures "gh" (undefined removes it) while the end user is at the upstream, then follows the callback:
   * the app gets `error` with `description` and its state, the upstream's code is never redeemed, and the broker
   * logs one info line of the refusal.
   */
  async function connectorChangedDuringConnect(state: string, connector: Parameters<typeof reconfigure>[0], error: string, description: string) {
    const { browser, callback } = await atCallback(state);
    await reconfigure(connector);
    const redeemed = upstream.stats.tokenByGrant.authorization_code ?? 0;
    const { result: back, lines } = await loggedDuring("connect refused", () => browser.navigate(callback, toApp));
    assert.equal(back.url.searchParams.get("error"), error, back.url.href);
    assert.equal(back.url.searchParams.get("error_description"), description);
    assert.equal(back.url.searchParams.get("state"), state);
    assert.equal(upstream.stats.tokenByGrant.authorization_code ?? 0, redeemed, "the code is never redeemed");
    assert.equal(lines.length, 1, "one line");
    assert.equal(lines[0]!.level, INFO);
    assert.equal(lines[0]!.connectorId, "gh");
  }

  it("a connector removed during the connect: the app gets server_error naming it, and the broker logs the refusal", async () => {
    await connectorChangedDuringConnect("st-removed", undefined, "server_error", 'connector "gh" is no longer configured');
    assert.equal(broker.services.connectors.has("gh"), false);
  });

  it("a connector changed to a kind without an upstream sign-in page during the connect: invalid_request, and the code is never redeemed", async () => {
    await connectorChangedDuringConnect(
      "st-kind",
      {
        id: "gh",
        name: "GitHub-like",
        auth: { kind: "api_key", fields: [{ name: "key", label: "API key", secret: true }] },
        api: { baseUrl: upstream.apiUrl },
        identity: { url: upstream.userUrl, subject: "id" },
      },
      "invalid_request",
      'connector "gh" does not connect through an upstream sign-in page',
    );
  });
});
