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
  let broker: TestBroker;
  let app: TestApp;

  before(async () => {
    const reserved = await reserveBrokerUrl();
    const port = await freePort();
    const server = `127.0.0.1:${port}/forge`;
    forge = await startKindsUpstream({
      port,
      pathPrefix: "/forge",
      client: { ...REGISTRATION, redirectUris: [reserved.callbackUrl(CONNECTOR.id, server)] },
    });
    forge.addUser("alice", "pw", { id: "f-1", email: "alice@forge.test", name: "Alice" });
    broker = await startTestBroker({ port: reserved.port, connectors: { "prefixed-forge.json": CONNECTOR } });
    app = await registerTestApp(broker);
    await setConnectorCredentials(broker.services, {
      connectorId: CONNECTOR.id,
      hostname: forge.hostname,
      clientId: REGISTRATION.id,
      clientSecret: REGISTRATION.secret,
    });
  });

  after(async () => {
    await Promise.allSettled([broker?.stop()]);
    await Promise.allSettled([forge?.close()]);
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
