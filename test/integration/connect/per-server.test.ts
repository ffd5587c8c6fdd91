/**
 * Per-server connectors: the end user's server (their GitLab, their
 * ServiceNow instance), typed on the hostname page or suggested by
 * `hostname=` on /oauth/authorize and confirmed there. The broker's client
 * credentials go to a server only when they were registered for it
 * (`credentials set --hostname`), or when the connector file lists it as
 * sharing the connector-wide ones; any other server is refused before any
 * request leaves the broker. Each server has its own callback, checked
 * against the connect attempt, and an `iss` a server sends must be its own
 * (RFC 9207). The typed name is resolved to allowed addresses only, and the
 * address it was checked at is kept with the account.
 *
 * Four upstream servers run on four loopback addresses (127.0.0.1 to
 * 127.0.0.4, on one port), each its own provider with its own registration
 * of the broker; a second broker without BROKER_ALLOW_PRIVATE_HOSTS shows
 * the SSRF refusals.
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
import { freePort } from "../../support/ports.js";
import { refreshAccount } from "../../../src/accounts/refresh.js";
import { setConnectorCredentials } from "../../../src/connectors/credentials.js";

/** Loopback literals, `localhost`, the cloud metadata address and 10/8: what the cases type. */
const PATTERN = "^(localhost|127\\.0\\.0\\.[0-9]{1,3}|169\\.254\\.169\\.254|10\\.[0-9.]+)(:[0-9]{2,5})?$";

/** Each server's own registration of the broker, as its administrator would hand it over. */
const REGISTRATIONS = {
  a: { id: "broker-at-a", secret: "secret-of-server-a-0123456789" },
  b: { id: "broker-at-b", secret: "secret-of-server-b-0123456789" },
  c: { id: "broker-at-c", secret: "secret-of-server-c-0123456789" },
  local: { id: "broker-at-local", secret: "secret-of-server-local-0123456789" },
};

function connectors(sharedWith: string): Record<string, unknown> {
  const identity = { url: "http://{hostname}/me", subject: "id", email: "email", name: "name" };
  const oauth2 = { kind: "oauth2", authorizationUrl: "http://{hostname}/oauth/authorize", tokenUrl: "http://{hostname}/oauth/token" };
  return {
    // GitLab-like: the upstream sign-in page on the end user's server, each server registered on its own.
    "server-oauth.json": {
      id: "server-oauth",
      name: "Self-hosted Forge",
      auth: oauth2,
      hostname: { pattern: PATTERN, label: "Your forge", example: "forge.example.com" },
      scopes: { api: ["api"] },
      defaultScopes: ["api"],
      api: { baseUrl: "http://{hostname}/api" },
      identity,
    },
    // One registration in the file, shared with the one server listed (Salesforce-like).
    "server-shared.json": {
      id: "server-shared",
      name: "Shared Forge",
      auth: { ...oauth2, clientId: REGISTRATIONS.a.id, clientSecret: REGISTRATIONS.a.secret },
      hostname: { pattern: PATTERN, sharedCredentialHosts: [sharedWith] },
      scopes: { api: ["api"] },
      defaultScopes: ["api"],
      api: { baseUrl: "http://{hostname}/api" },
      identity,
    },
    // Jira-like: a hostname, then the credential page; end users bring their own credentials.
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
  let port: number;
  let serverA: KindsUpstream;
  let serverB: KindsUpstream;
  let serverC: KindsUpstream;
  let serverLocal: KindsUpstream;
  let broker: TestBroker;
  let strictBroker: TestBroker;
  let app: TestApp;
  let strictApp: TestApp;
  const localName = () => `localhost:${port}`;

  before(async () => {
    const reserved = await reserveBrokerUrl();
    // One port on four addresses: a name's answer, not the port, decides where a connection goes.
    port = await freePort();
    const callbacks = (host: string) => ["server-oauth", "server-shared"].map((id) => reserved.callbackUrl(id, host));
    const start = (address: string, registration: { id: string; secret: string }, extra: { authorizationResponseIssuer?: string } = {}) =>
      startKindsUpstream({ host: address, port, client: { ...registration, redirectUris: callbacks(`${address}:${port}`) }, ...extra });
    serverLocal = await startKindsUpstream({ host: "127.0.0.1", port, client: { ...REGISTRATIONS.local, redirectUris: callbacks(`localhost:${port}`) } });
    // A says who it is with every authorization response (RFC 9207); C lies that it is A.
    serverA = await start("127.0.0.2", REGISTRATIONS.a, { authorizationResponseIssuer: `http://127.0.0.2:${port}` });
    serverB = await start("127.0.0.3", REGISTRATIONS.b);
    serverC = await start("127.0.0.4", REGISTRATIONS.c, { authorizationResponseIssuer: `http://127.0.0.2:${port}` });
    serverA.addUser("alice", "pw", { id: "a-1", email: "alice@a.test", name: "Alice at A" });
    serverB.addUser("bob", "pw", { id: "b-1", email: "bob@b.test", name: "Bob at B" });
    serverC.addUser("carol", "pw", { id: "c-1", email: "carol@c.test", name: "Carol at C" });
    serverLocal.acceptBasic("lou", "lou-pass", { id: "l-1", email: "lou@local.test", name: "Lou" });
    serverLocal.addUser("lou", "pw", { id: "l-1", email: "lou@local.test", name: "Lou" });
    broker = await startTestBroker({ port: reserved.port, connectors: connectors(serverA.hostname) });
    app = await registerTestApp(broker);
    for (const [server, registration] of [
      [serverA.hostname, REGISTRATIONS.a],
      [serverB.hostname, REGISTRATIONS.b],
      [serverC.hostname, REGISTRATIONS.c],
      [localName(), REGISTRATIONS.local],
    ] as const) {
      await setConnectorCredentials(broker.services, {
        connectorId: "server-oauth",
        hostname: server,
        clientId: registration.id,
        clientSecret: registration.secret,
      });
    }
    strictBroker = await startTestBroker({ connectors: connectors(serverA.hostname), env: { BROKER_ALLOW_PRIVATE_HOSTS: "" } });
    strictApp = await registerTestApp(strictBroker);
  });

  after(async () => {
    await Promise.allSettled([broker?.stop(), strictBroker?.stop()]);
    await Promise.allSettled([serverA?.close(), serverB?.close(), serverC?.close(), serverLocal?.close()]);
  });

  async function authorize(target: TestApp, params: Record<string, string>, browser = new TestBrowser()) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(target.config, {
      redirect_uri: TEST_APP_REDIRECT,
      scope: "proxy",
      state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      ...params,
    });
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
  const requestsTo = (...servers: KindsUpstream[]) => servers.reduce((n, s) => n + s.requests.length, 0);

  it("asks for the hostname, then signs in at that server with the credentials registered for it", async () => {
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
    assert.equal(
      decodeURIComponent(Buffer.from(exchange.authorization!.slice(6), "base64").toString().split(":")[0]!),
      REGISTRATIONS.a.id,
      "A's own registration",
    );
    assert.equal(exchange.form!.redirect_uri, broker.callbackUrl("server-oauth", serverA.hostname), "A's own callback");
    assert.equal(serverB.grants.authorization_code ?? 0, tokenRequestsAtB, "the other server saw nothing");
  });

  it("the ID token and userinfo name the server that vouched for the identity (upstream_host), whatever the scope", async () => {
    for (const scope of ["openid proxy", "openid email proxy"]) {
      serverA.setAuthorizeUser("alice");
      const started = await authorize(app, { connector: "server-oauth", hostname: serverA.hostname, scope });
      const back = await started.browser.submitForm(started.page, toApp);
      const tokens = await client.authorizationCodeGrant(app.config, back.url, {
        pkceCodeVerifier: started.verifier,
        expectedState: started.state,
        idTokenExpected: true,
      });
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

  it("hostname= only fills in the hostname page: nothing goes to that server until the end user confirms it", async () => {
    serverB.setAuthorizeUser("bob");
    const before = requestsTo(serverB);
    const started = await authorize(app, { connector: "server-oauth", hostname: serverB.hostname });
    assert.equal(started.page.url.pathname, "/connect/hostname");
    assert.equal(parse(started.page.body).querySelector('input[name="hostname"]')?.getAttribute("value"), serverB.hostname);
    assert.match(started.page.body, /The link you followed suggests the server below/);
    assert.equal(requestsTo(serverB), before, "no request before the end user confirms");
    const back = await started.browser.submitForm(started.page, toApp);
    const account = await accountOf(app, back.url, started.verifier, started.state);
    assert.deepEqual([account.hostname, account.pinnedAddress, account.upstreamSubject], [serverB.hostname, "127.0.0.3", "b-1"]);
    assert.equal(serverB.requests.filter((r) => r.path === "/me").at(-1)?.localAddress, "127.0.0.3");
  });

  it("a server without a registration of its own gets a clear page, and no request is sent anywhere", async () => {
    const before = requestsTo(serverA, serverB, serverC, serverLocal);
    const started = await authorize(app, { connector: "server-oauth" });
    const refused = await started.browser.submitForm(started.page, { fields: { hostname: "10.9.9.9:8443" }, ...toApp });
    assert.equal(refused.url.pathname, "/connect/hostname");
    const problem = problemOf(refused)!;
    assert.match(problem, /10\.9\.9\.9:8443 has not registered this broker yet/);
    assert.ok(problem.includes(broker.callbackUrl("server-oauth", "10.9.9.9:8443")), `the redirect URI its administrator needs: ${problem}`);
    // A registration for the server, but the port named another one: no registration.
    const otherPort = await started.browser.submitForm(refused, { fields: { hostname: `127.0.0.2:${port + 1}` }, ...toApp });
    assert.match(problemOf(otherPort)!, /has not registered this broker yet/);
    assert.equal(requestsTo(serverA, serverB, serverC, serverLocal), before);
    assert.equal(await broker.services.db.account.count({ where: { hostname: "10.9.9.9:8443" } }), 0);
  });

  it("the connector-wide credentials go only to the servers the file lists", async () => {
    serverA.setAuthorizeUser("alice");
    const atB = requestsTo(serverB);
    const started = await authorize(app, { connector: "server-shared" });
    const refused = await started.browser.submitForm(started.page, { fields: { hostname: serverB.hostname }, ...toApp });
    assert.match(problemOf(refused)!, /has not registered this broker yet/, "B matches the pattern, but the shared secret is not for B");
    assert.equal(requestsTo(serverB), atB, "B saw nothing, and never the secret");
    const back = await started.browser.submitForm(refused, { fields: { hostname: serverA.hostname }, ...toApp });
    const account = await accountOf(app, back.url, started.verifier, started.state);
    assert.equal(account.connectorId, "server-shared");
    assert.equal(account.hostname, serverA.hostname);
  });

  describe("each server has its own callback, checked against the connect (mix-up defence)", () => {
    /** Starts a connect at a server and stops where the server sends the browser back to the broker. */
    async function responseOf(connector: string, server: KindsUpstream, user: string) {
      server.setAuthorizeUser(user);
      const started = await authorize(app, { connector });
      const atCallback = await started.browser.submitForm(started.page, {
        fields: { hostname: server.hostname },
        stopAt: (u) => u.pathname.startsWith("/connect/callback/"),
      });
      assert.ok(atCallback.stopped, `stopped at the broker's callback: ${atCallback.url.href}`);
      return { ...started, callback: atCallback.url };
    }

    for (const [what, path] of [
      ["another server's callback of the same connector", () => new URL(broker.callbackUrl("server-oauth", serverB.hostname)).pathname],
      ["another connector's callback for the same server", () => new URL(broker.callbackUrl("server-shared", serverA.hostname)).pathname],
      ["a callback without the server", () => new URL(broker.callbackUrl("server-oauth")).pathname],
    ] as const) {
      it(`a response relayed to ${what} is refused, and its code is never redeemed`, async () => {
        const { browser, callback } = await responseOf("server-oauth", serverA, "alice");
        assert.equal(callback.pathname, new URL(broker.callbackUrl("server-oauth", serverA.hostname)).pathname);
        const redeemed = serverA.grants.authorization_code ?? 0;
        const relayed = new URL(callback);
        relayed.pathname = path();
        const back = await browser.navigate(relayed.href, toApp);
        assert.equal(back.url.searchParams.get("error"), "access_denied", back.url.href);
        assert.equal(back.url.searchParams.get("code"), null);
        assert.equal(serverA.grants.authorization_code ?? 0, redeemed);
      });
    }

    it("an iss that names another server than the one signed in at is refused (RFC 9207)", async () => {
      const redeemed = serverC.grants.authorization_code ?? 0;
      const { browser, callback } = await responseOf("server-oauth", serverC, "carol");
      assert.equal(callback.searchParams.get("iss"), `http://127.0.0.2:${port}`, "C claims to be A");
      const back = await browser.navigate(callback.href, toApp);
      assert.ok(back.url.searchParams.get("error"), `the app gets an error: ${back.url.href}`);
      assert.equal(back.url.searchParams.get("code"), null);
      assert.equal(serverC.grants.authorization_code ?? 0, redeemed, "the code is never sent to a token endpoint");
    });

    it("the single callback of earlier versions answers a page that says what to update", async () => {
      const { browser, callback } = await responseOf("server-oauth", serverA, "alice");
      const old = new URL(callback);
      old.pathname = "/connect/callback";
      const logged = broker.services.logs.lines.length;
      const page = await browser.navigate(old.href, toApp);
      assert.deepEqual(
        broker.services.logs.lines
          .slice(logged)
          .filter((l) => l.level === 40)
          .map((l) => l.msg),
        ["an upstream sent the end user to /connect/callback: its registered redirect URI must be updated to /connect/callback/<connector>"],
        "one warning tells the operator what to update",
      );
      assert.equal(page.status, 400);
      assert.match(page.body, /invalid_request/, "the page names the error");
      assert.match(
        problemOf(page)!,
        /redirect URI registered at the service to .*\/connect\/callback\/&lt;connector&gt;|redirect URI registered at the service to .*\/connect\/callback\/<connector>/,
      );
    });
  });

  it("a hostname outside the connector's pattern is refused on the page, and nothing is sent anywhere", async () => {
    const started = await authorize(app, { connector: "server-oauth" });
    const again = await started.browser.submitForm(started.page, { fields: { hostname: "gitlab.evil.example" }, ...toApp });
    assert.equal(again.url.pathname, "/connect/hostname");
    assert.match(problemOf(again)!, /gitlab\.evil\.example is not a Self-hosted Forge server this broker may connect to/);
    assert.equal(
      parse(again.body).querySelector('input[name="hostname"]')?.getAttribute("value"),
      "gitlab.evil.example",
      "the typed value is there to correct",
    );
    const path = await started.browser.submitForm(again, { fields: { hostname: `${serverA.hostname}/evil` }, ...toApp });
    assert.match(problemOf(path)!, /without a path/);
  });

  it("a hostname= that does not fit is shown on the hostname page, and refused when confirmed", async () => {
    const started = await authorize(app, { connector: "server-oauth", hostname: "intranet.corp" });
    assert.equal(started.page.url.pathname, "/connect/hostname");
    const confirmed = await started.browser.submitForm(started.page, toApp);
    assert.match(problemOf(confirmed)!, /intranet\.corp is not a Self-hosted Forge server/);
  });

  it("a name is resolved and its address pinned; a per-server credential page follows the hostname page", async () => {
    const started = await authorize(app, { connector: "server-basic" });
    const credentials = await started.browser.submitForm(started.page, { fields: { hostname: localName() }, ...toApp });
    assert.equal(credentials.url.pathname, "/connect/credentials");
    assert.match(credentials.body, new RegExp(`on <strong>${localName()}</strong>`));
    const back = await started.browser.submitForm(credentials, { fields: { username: "lou", password: "lou-pass" }, ...toApp });
    const account = await accountOf(app, back.url, started.verifier, started.state);
    assert.deepEqual([account.hostname, account.pinnedAddress, account.upstreamSubject], [localName(), "127.0.0.1", "l-1"]);
  });

  it("every later request goes to the pinned address, not to where the hostname points (no DNS rebinding)", async () => {
    // `localhost` is a name: it is resolved once, at connect, and its answer kept.
    serverLocal.setAuthorizeUser("lou");
    const started = await authorize(app, { connector: "server-oauth", hostname: localName() });
    const back = await started.browser.submitForm(started.page, toApp);
    const account = await accountOf(app, back.url, started.verifier, started.state);
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
    assert.equal(sent.host, localName(), "while naming the account's host");
    assert.equal(serverLocal.requests.length, atLocal, "nothing went where the name resolves today");
  });

  describe("without BROKER_ALLOW_PRIVATE_HOSTS", () => {
    for (const [what, hostname] of [
      ["a loopback address", () => serverA.hostname],
      ["a name resolving to 127.0.0.1", () => localName()],
      ["the cloud metadata address 169.254.169.254", () => "169.254.169.254"],
      ["a private address", () => "10.1.2.3"],
    ] as const) {
      it(`refuses ${what} on the hostname page, and connects nothing`, async () => {
        const before = requestsTo(serverA, serverLocal);
        const accounts = await strictBroker.services.db.account.count();
        const started = await authorize(strictApp, { connector: "server-basic" });
        const again = await started.browser.submitForm(started.page, { fields: { hostname: hostname() }, ...toApp });
        assert.equal(again.url.pathname, "/connect/hostname");
        assert.match(problemOf(again)!, /points to a private or reserved network address/);
        assert.equal(await strictBroker.services.db.account.count(), accounts);
        assert.equal(requestsTo(serverA, serverLocal), before, "no request left the broker");
      });
    }

    it("refuses a confirmed hostname= that resolves to loopback the same way", async () => {
      const started = await authorize(strictApp, { connector: "server-basic", hostname: localName() });
      assert.equal(started.page.url.pathname, "/connect/hostname");
      const confirmed = await started.browser.submitForm(started.page, toApp);
      assert.match(problemOf(confirmed)!, /points to a private or reserved network address/);
    });
  });
});
