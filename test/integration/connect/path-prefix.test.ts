/**
 * A per-server connector with `hostname.pathPrefix`: the end user's server
 * is installed under a path (GitLab at `example.com/gitlab`, Jira Data
 * Center at `example.com/jira`). The prefix is kept with the account like
 * the host and filled where `{hostname}` is; only the host is resolved and
 * pinned, and the proxy keeps every call inside the prefixed base.
 *
 * The upstream is a GitLab-like server answering only under `/forge`
 * (test/support/kinds-upstream.ts `pathPrefix`): a request that escaped the
 * prefix would be recorded there as `outside_prefix`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import { decodeJwt } from "jose";
import { parse } from "node-html-parser";
import { reserveBrokerUrl, startTestBroker, type TestBroker } from "../../support/broker.js";
import { TestBrowser, type BrowserResponse } from "../../support/browser.js";
import { registerTestApp, TEST_APP_REDIRECT, type TestApp } from "../../support/flow.js";
import { startKindsUpstream, type KindsUpstream } from "../../support/kinds-upstream.js";
import { rawRequest } from "../../support/api-upstream.js";
import { freePort } from "../../support/ports.js";
import { checkedServerName, setConnectorCredentials } from "../../../src/connectors/credentials.js";
import { refreshAccount } from "../../../src/accounts/refresh.js";

const REGISTRATION = { id: "broker-at-forge", secret: "secret-of-the-forge-0123456789" };

const CONNECTOR = {
  id: "prefixed-forge",
  name: "Prefixed Forge",
  auth: { kind: "oauth2", authorizationUrl: "http://{hostname}/oauth/authorize", tokenUrl: "http://{hostname}/oauth/token" },
  hostname: { pathPrefix: true, label: "Your forge", example: "example.com/forge" },
  scopes: { api: ["api"] },
  defaultScopes: ["api"],
  api: { baseUrl: "http://{hostname}/api" },
  identity: { url: "http://{hostname}/me", subject: "id", email: "email", name: "name" },
};

describe("per-server connectors with hostname.pathPrefix", () => {
  let forge: KindsUpstream;
  /** Another server on the same port at 127.0.0.3, under the same prefix: where a pinned address could send requests. */
  let other: KindsUpstream;
  let broker: TestBroker;
  let app: TestApp;

  before(async () => {
    const reserved = await reserveBrokerUrl();
    const port = await freePort();
    const redirectUris = [`127.0.0.1:${port}/forge`, `localhost:${port}/forge`].map((server) => reserved.callbackUrl(CONNECTOR.id, server));
    forge = await startKindsUpstream({ port, pathPrefix: "/forge", client: { ...REGISTRATION, redirectUris } });
    other = await startKindsUpstream({ host: "127.0.0.3", port, pathPrefix: "/forge", client: { ...REGISTRATION, redirectUris } });
    forge.addUser("alice", "pw", { id: "f-1", email: "alice@forge.test", name: "Alice" });
    broker = await startTestBroker({ port: reserved.port, connectors: { "prefixed-forge.json": CONNECTOR } });
    app = await registerTestApp(broker);
    for (const hostname of [forge.hostname, `localhost:${port}/forge`])
      await setConnectorCredentials(broker.services, { connectorId: CONNECTOR.id, hostname, clientId: REGISTRATION.id, clientSecret: REGISTRATION.secret });
  });

  after(async () => {
    await Promise.allSettled([broker?.stop()]);
    await Promise.allSettled([forge?.close(), other?.close()]);
  });

  const toApp = { stopAt: (u: URL) => u.href.startsWith(TEST_APP_REDIRECT) };
  const problemOf = (page: BrowserResponse) => parse(page.body).querySelector('[role="alert"]')?.text;
  const outsidePrefix = () => forge.requests.filter((r) => !r.path.startsWith("/forge/"));

  async function authorize(params: Record<string, string>) {
    const browser = new TestBrowser();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(app.config, {
      redirect_uri: TEST_APP_REDIRECT,
      scope: "proxy",
      state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      ...params,
    });
    return { browser, verifier, state, page: await browser.navigate(url, toApp) };
  }

  async function connect(typed: string) {
    forge.setAuthorizeUser("alice");
    const started = await authorize({ connector: CONNECTOR.id });
    const back = await started.browser.submitForm(started.page, { fields: { hostname: typed }, ...toApp });
    assert.ok(back.url.searchParams.get("code"), `expected a code, got ${back.url.href}: ${problemOf(back) ?? ""}`);
    const tokens = await client.authorizationCodeGrant(app.config, back.url, { pkceCodeVerifier: started.verifier, expectedState: started.state });
    const account = await broker.services.db.account.findUniqueOrThrow({ where: { id: String(decodeJwt(tokens.access_token).acct) } });
    return { account, accessToken: tokens.access_token };
  }

  it("connects to a server under a path: the prefix is kept with the account, only the host is pinned", async () => {
    const { account } = await connect(` HTTP://127.0.0.1:${forge.port}/forge/ `);
    assert.equal(account.hostname, forge.hostname, "normalised: no scheme, no trailing slash");
    assert.equal(account.pinnedAddress, "127.0.0.1");
    assert.equal(account.upstreamSubject, "f-1");
    const exchange = forge.requests.find((r) => r.form?.grant_type === "authorization_code")!;
    assert.equal(exchange.path, "/forge/oauth/token");
    assert.equal(exchange.form!.redirect_uri, broker.callbackUrl(CONNECTOR.id, forge.hostname), "the server's own callback");
    assert.ok(forge.requests.some((r) => r.path === "/forge/me"));
    assert.deepEqual(outsidePrefix(), []);
  });

  it("the proxy calls the base under the prefix, and no path leaves it", async () => {
    const { accessToken } = await connect(forge.hostname);
    const call = (path: string) => rawRequest(broker.url, { path: `/v1/proxy${path}`, headers: { authorization: `Bearer ${accessToken}` } });
    const echo = await call("/echo");
    assert.equal(echo.status, 200, echo.text);
    assert.equal(forge.requests.at(-1)!.path, "/forge/api/echo");
    for (const path of ["/../../me", "/../oauth/token", "/%2e%2e/%2e%2e/me", "/..%2f..%2fme", "/.%2e/me", "//127.0.0.1/me"]) {
      const res = await call(path);
      assert.equal(res.status, 400, `${path}: ${res.status} ${res.text}`);
    }
    assert.deepEqual(outsidePrefix(), [], "nothing reached the server outside its prefix");
  });

  it("a name under a path is resolved and pinned by its host: later requests go to the pinned address (no DNS rebinding)", async () => {
    const server = `localhost:${forge.port}/forge`;
    const { account, accessToken } = await connect(server);
    assert.deepEqual([account.hostname, account.pinnedAddress], [server, "127.0.0.1"]);
    // Had localhost answered 127.0.0.3 at connect, the proxy and the refresh would go there, whatever DNS says now.
    await broker.services.db.account.update({ where: { id: account.id }, data: { pinnedAddress: "127.0.0.3" } });
    const atForge = forge.requests.length;
    // The proxy first (a refused refresh makes the account needs_reauth).
    await rawRequest(broker.url, { path: "/v1/proxy/echo", headers: { authorization: `Bearer ${accessToken}` } });
    const proxied = other.requests.find((r) => r.path === "/forge/api/echo");
    assert.ok(proxied, "the proxied call reached the pinned address");
    assert.equal(proxied.localAddress, "127.0.0.3");
    await assert.rejects(refreshAccount(broker.services, account.id, { force: true }), "the other server does not know this refresh token");
    const sent = other.requests.find((r) => r.form?.grant_type === "refresh_token");
    assert.ok(sent, "the refresh reached the pinned address");
    assert.deepEqual([sent.localAddress, sent.host, sent.path], ["127.0.0.3", `localhost:${forge.port}`, "/forge/oauth/token"]);
    assert.equal(forge.requests.length, atForge, "nothing went where the name resolves today");
  });

  for (const [what, typed, problem] of [
    ["a . or .. segment", "/forge/../admin", /no \. or \.\. segments/],
    ["a single-dot segment", "/./forge", /no \. or \.\. segments/],
    ["a percent-encoded character", "/for%67e", /no percent-encoded characters/],
    ["a query", "/forge?x=1", /no query \(\?\) or fragment/],
    ["a fragment", "/forge#top", /no query \(\?\) or fragment/],
    ["an empty segment", "/forge//api", /letters, digits and - \. _ ~ between single slashes/],
    ["a character outside the unreserved set", "/for ge", /letters, digits and - \. _ ~ between single slashes/],
    ["credentials before the host", "@evil.example/forge", /not a host name/],
  ] as const) {
    it(`a server with ${what} is refused on the hostname page, and nothing is sent`, async () => {
      const before = forge.requests.length;
      const started = await authorize({ connector: CONNECTOR.id });
      const typedServer = what === "credentials before the host" ? `user${typed}` : `127.0.0.1:${forge.port}${typed}`;
      const again = await started.browser.submitForm(started.page, { fields: { hostname: typedServer }, ...toApp });
      assert.equal(again.url.pathname, "/connect/hostname");
      assert.match(problemOf(again) ?? "", problem);
      assert.equal(forge.requests.length, before);
    });
  }

  it("credentials are registered for a server under a path only where the connector admits one", () => {
    const connector = broker.services.connectors.get(CONNECTOR.id)!;
    assert.equal(checkedServerName(connector, "https://Example.com/GitLab/"), "example.com/GitLab", "the path keeps its case");
    assert.throws(() => checkedServerName(connector, "example.com/a/../b"), /no \. or \.\. segments/);
    const bare = { ...connector, hostname: { ...connector.hostname!, pathPrefix: false } };
    assert.throws(() => checkedServerName(bare, "example.com/gitlab"), /a host name, without a path/);
  });
});
