/**
 * Per-server connectors (issue 5): the end user's hostname, from the
 * hostname page or `hostname=` on /oauth/authorize, checked against the
 * connector's pattern and resolved to allowed addresses only; the address
 * it was checked at is kept with the account, and every later request to
 * that host goes there. Two upstream servers run on two loopback addresses
 * (127.0.0.2 and 127.0.0.3, on the same port), each its own provider; a
 * second broker without BROKER_ALLOW_PRIVATE_HOSTS shows the SSRF refusals.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import { decodeJwt } from "jose";
import { parse } from "node-html-parser";
import { reserveBrokerUrl, startTestBroker, type TestBroker } from "../support/broker.js";
import { TestBrowser, type BrowserResponse } from "../support/browser.js";
import { registerTestApp, TEST_APP_REDIRECT, type TestApp } from "../support/flow.js";
import { startKindsUpstream, type KindsUpstream } from "../support/kinds-upstream.js";
import { refreshAccount } from "../../src/accounts/refresh.js";

const CLIENT_SECRET = "server-client-secret-0123456789";
/** Loopback literals, `localhost` and the cloud metadata address: what the SSRF cases type. */
const PATTERN = "^(localhost|127\\.0\\.0\\.[0-9]{1,3}|169\\.254\\.169\\.254|10\\.[0-9.]+)(:[0-9]{2,5})?$";

function connectors(): Record<string, unknown> {
  const identity = { url: "http://{hostname}/me", subject: "id", email: "email", name: "name" };
  return {
    // GitLab-like: the upstream sign-in page on the end user's server.
    "server-oauth.json": {
      id: "server-oauth",
      name: "Self-hosted Forge",
      auth: { kind: "oauth2", authorizationUrl: "http://{hostname}/oauth/authorize", tokenUrl: "http://{hostname}/oauth/token", clientId: "broker-at-server", clientSecret: CLIENT_SECRET },
      hostname: { pattern: PATTERN, label: "Your forge", example: "forge.example.com" },
      scopes: { api: ["api"] },
      defaultScopes: ["api"],
      api: { baseUrl: "http://{hostname}/api" },
      identity,
    },
    // Jira-like: a hostname, then the credential page.
    "server-basic.json": {
      id: "server-basic",
      name: "Self-hosted Tracker",
      auth: { kind: "basic" },
      hostname: { pattern: PATTERN },
      api: { baseUrl: "http://{hostname}/api" },
      identity,
    },
  };
}

describe("per-server connectors", () => {
  let serverA: KindsUpstream;
  let serverB: KindsUpstream;
  let serverLocal: KindsUpstream;
  let broker: TestBroker;
  let strictBroker: TestBroker;
  let app: TestApp;
  let strictApp: TestApp;

  before(async () => {
    const reserved = await reserveBrokerUrl();
    const client = { id: "broker-at-server", secret: CLIENT_SECRET, redirectUris: [reserved.callbackUrl] };
    // One port on three addresses: a name's answer, not the port, decides where a connection goes.
    serverLocal = await startKindsUpstream({ host: "127.0.0.1", client });
    serverA = await startKindsUpstream({ host: "127.0.0.2", port: serverLocal.port, client });
    serverB = await startKindsUpstream({ host: "127.0.0.3", port: serverLocal.port, client });
    serverA.addUser("alice", "pw", { id: "a-1", email: "alice@a.test", name: "Alice at A" });
    serverB.addUser("bob", "pw", { id: "b-1", email: "bob@b.test", name: "Bob at B" });
    serverLocal.acceptBasic("lou", "lou-pass", { id: "l-1", email: "lou@local.test", name: "Lou" });
    serverLocal.addUser("lou", "pw", { id: "l-1", email: "lou@local.test", name: "Lou" });
    broker = await startTestBroker({ port: reserved.port, connectors: connectors() });
    app = await registerTestApp(broker);
    strictBroker = await startTestBroker({ connectors: connectors(), env: { BROKER_ALLOW_PRIVATE_HOSTS: "" } });
    strictApp = await registerTestApp(strictBroker);
  });

  after(async () => {
    await Promise.allSettled([broker?.stop(), strictBroker?.stop()]);
    await Promise.allSettled([serverA?.close(), serverB?.close(), serverLocal?.close()]);
  });

  async function authorize(target: TestApp, params: Record<string, string>, browser = new TestBrowser()) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(target.config, { redirect_uri: TEST_APP_REDIRECT, scope: "proxy", state, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", ...params });
    const page = await browser.navigate(url, { stopAt: (u) => u.href.startsWith(TEST_APP_REDIRECT) });
    return { browser, page, verifier, state };
  }

  async function accountOf(target: TestApp, back: URL, verifier: string, state: string) {
    assert.ok(back.searchParams.get("code"), `expected a code, got ${back.href}`);
    const tokens = await client.authorizationCodeGrant(target.config, back, { pkceCodeVerifier: verifier, expectedState: state });
    return broker.services.db.account.findUniqueOrThrow({ where: { id: String(decodeJwt(tokens.access_token).acct) } });
  }

  function problemOf(page: BrowserResponse): string | undefined {
    return parse(page.body).querySelector('[role="alert"]')?.text;
  }

  const toApp = { stopAt: (u: URL) => u.href.startsWith(TEST_APP_REDIRECT) };

  it("asks for the hostname, then signs in at that server; the account keeps the hostname and the checked address", async () => {
    serverA.setAuthorizeUser("alice");
    const started = await authorize(app, { connector: "server-oauth" });
    assert.equal(started.page.url.pathname, "/connect/hostname");
    const input = parse(started.page.body).querySelector('input[name="hostname"]')!;
    assert.equal(parse(started.page.body).querySelector(`label[for="${input.getAttribute("id")}"]`)?.text, "Your forge");
    assert.match(started.page.body, /For example forge\.example\.com/);
    const tokenRequestsAtB = serverB.grants.authorization_code ?? 0;
    const back = await started.browser.submitForm(started.page, { fields: { hostname: ` http://${serverA.hostname.toUpperCase()}/ ` }, ...toApp });
    const account = await accountOf(app, back.url, started.verifier, started.state);
    assert.equal(account.hostname, serverA.hostname, "normalized: no scheme, no slash, lower case");
    assert.equal(account.pinnedAddress, "127.0.0.2");
    assert.equal(account.upstreamSubject, "a-1");
    const exchange = serverA.requests.find((r) => r.form?.grant_type === "authorization_code")!;
    assert.equal(exchange.localAddress, "127.0.0.2");
    assert.equal(serverB.grants.authorization_code ?? 0, tokenRequestsAtB, "the other server saw nothing");
  });

  it("the ID token and userinfo name the server that vouched for the identity (upstream_host), whatever the scope", async () => {
    for (const scope of ["openid proxy", "openid email proxy"]) {
      serverA.setAuthorizeUser("alice");
      const started = await authorize(app, { connector: "server-oauth", hostname: serverA.hostname, scope });
      const tokens = await client.authorizationCodeGrant(app.config, started.page.url, { pkceCodeVerifier: started.verifier, expectedState: started.state, idTokenExpected: true });
      const idToken = tokens.claims()!;
      const userinfo = await client.fetchUserInfo(app.config, tokens.access_token, idToken.sub);
      for (const [where, claims] of Object.entries({ idToken, userinfo })) {
        assert.equal(claims.upstream_host, serverA.hostname, `${where}, ${scope}`);
        assert.equal(claims.connector, "server-oauth", `${where}, ${scope}`);
        // The server said nothing of verification (no identity.emailVerified): no email_verified, never a default true.
        assert.equal(claims.email_verified, undefined, `${where}, ${scope}`);
        assert.equal(claims.email, scope.includes("email") ? "alice@a.test" : undefined, `${where}, ${scope}`);
      }
    }
  });

  it("takes hostname= on /oauth/authorize and skips the hostname page", async () => {
    serverB.setAuthorizeUser("bob");
    const started = await authorize(app, { connector: "server-oauth", hostname: serverB.hostname });
    assert.ok(started.page.stopped, "straight through the upstream back to the app");
    assert.ok(!started.page.chain.some((u) => u.pathname === "/connect/hostname"));
    const account = await accountOf(app, started.page.url, started.verifier, started.state);
    assert.deepEqual([account.hostname, account.pinnedAddress, account.upstreamSubject], [serverB.hostname, "127.0.0.3", "b-1"]);
    assert.equal(serverB.requests.filter((r) => r.path === "/me").at(-1)?.localAddress, "127.0.0.3");
  });

  it("a hostname outside the connector's pattern is refused on the page, and nothing is sent anywhere", async () => {
    const started = await authorize(app, { connector: "server-oauth" });
    const again = await started.browser.submitForm(started.page, { fields: { hostname: "gitlab.evil.example" }, ...toApp });
    assert.equal(again.url.pathname, "/connect/hostname");
    assert.match(problemOf(again)!, /gitlab\.evil\.example is not a Self-hosted Forge server this broker may connect to/);
    assert.equal(parse(again.body).querySelector('input[name="hostname"]')?.getAttribute("value"), "gitlab.evil.example", "the typed value is there to correct");
    const path = await started.browser.submitForm(again, { fields: { hostname: `${serverA.hostname}/evil` }, ...toApp });
    assert.match(problemOf(path)!, /without a path/);
  });

  it("a hostname= that does not fit shows the hostname page with the problem", async () => {
    const started = await authorize(app, { connector: "server-oauth", hostname: "intranet.corp" });
    assert.equal(started.page.url.pathname, "/connect/hostname");
    assert.match(problemOf(started.page)!, /intranet\.corp is not a Self-hosted Forge server/);
  });

  it("a name is resolved and its address pinned; a per-server credential page follows the hostname page", async () => {
    const started = await authorize(app, { connector: "server-basic" });
    const credentials = await started.browser.submitForm(started.page, { fields: { hostname: `localhost:${serverLocal.port}` }, ...toApp });
    assert.equal(credentials.url.pathname, "/connect/credentials");
    assert.match(credentials.body, new RegExp(`on <strong>localhost:${serverLocal.port}</strong>`));
    const back = await started.browser.submitForm(credentials, { fields: { username: "lou", password: "lou-pass" }, ...toApp });
    const account = await accountOf(app, back.url, started.verifier, started.state);
    assert.deepEqual([account.hostname, account.pinnedAddress, account.upstreamSubject], [`localhost:${serverLocal.port}`, "127.0.0.1", "l-1"]);
  });

  it("every later request goes to the pinned address, not to where the hostname points (no DNS rebinding)", async () => {
    // `localhost` is a name: it is resolved once, at connect, and its answer kept.
    const started = await authorize(app, { connector: "server-oauth", hostname: `localhost:${serverLocal.port}` });
    const account = await accountOf(app, started.page.url, started.verifier, started.state);
    assert.equal(account.pinnedAddress, "127.0.0.1");
    const refreshed = await refreshAccount(broker.services, account.id, { force: true });
    assert.equal(refreshed.outcome, "refreshed");
    assert.equal(serverLocal.requests.filter((r) => r.form?.grant_type === "refresh_token").at(-1)?.localAddress, "127.0.0.1");

    // Had the name answered 127.0.0.3 at connect, every request would go there, whatever DNS says now.
    await broker.services.db.account.update({ where: { id: account.id }, data: { pinnedAddress: "127.0.0.3" } });
    const atB = serverB.requests.length;
    const atLocal = serverLocal.requests.length;
    await assert.rejects(refreshAccount(broker.services, account.id, { force: true }), "the other server does not know this refresh token");
    const sent = serverB.requests.slice(atB).find((r) => r.form?.grant_type === "refresh_token");
    assert.ok(sent, "the refresh reached the pinned address");
    assert.equal(sent.localAddress, "127.0.0.3");
    assert.equal(sent.host, `localhost:${serverLocal.port}`, "while naming the account's host");
    assert.equal(serverLocal.requests.length, atLocal, "nothing went where the name resolves today");
  });

  describe("without BROKER_ALLOW_PRIVATE_HOSTS", () => {
    for (const [what, hostname] of [
      ["a loopback address", () => serverA.hostname],
      ["a name resolving to 127.0.0.1", () => `localhost:${serverLocal.port}`],
      ["the cloud metadata address 169.254.169.254", () => "169.254.169.254"],
      ["a private address", () => "10.1.2.3"],
    ] as const) {
      it(`refuses ${what} on the hostname page, and connects nothing`, async () => {
        const before = serverA.requests.length + serverLocal.requests.length;
        const accounts = await strictBroker.services.db.account.count();
        const started = await authorize(strictApp, { connector: "server-oauth" });
        const again = await started.browser.submitForm(started.page, { fields: { hostname: hostname() }, ...toApp });
        assert.equal(again.url.pathname, "/connect/hostname");
        assert.match(problemOf(again)!, /points to a private or reserved network address/);
        assert.equal(await strictBroker.services.db.account.count(), accounts);
        assert.equal(serverA.requests.length + serverLocal.requests.length, before, "no request left the broker");
      });
    }

    it("refuses a hostname= parameter that resolves to loopback the same way", async () => {
      const started = await authorize(strictApp, { connector: "server-basic", hostname: `localhost:${serverLocal.port}` });
      assert.equal(started.page.url.pathname, "/connect/hostname");
      assert.match(problemOf(started.page)!, /points to a private or reserved network address/);
    });
  });
});
