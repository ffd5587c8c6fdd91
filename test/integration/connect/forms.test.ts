/**
 * The connect pages for kinds whose end users type something (issue 5):
 * basic and api_key values checked once against identity.url and sealed,
 * the password grant's password exchanged once and never kept, and the
 * pages themselves — accessible, without JavaScript, CSRF-protected,
 * 303 after every POST, an error state for every failure. The app is
 * openid-client; the end user is TestBrowser; the upstream is real.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import { decodeJwt } from "jose";
import { parse } from "node-html-parser";
import { startTestBroker, type TestBroker } from "../../support/broker.js";
import { TestBrowser, type BrowserResponse } from "../../support/browser.js";
import { registerTestApp, TEST_APP_REDIRECT, type TestApp } from "../../support/flow.js";
import { startKindsUpstream, type KindsUpstream } from "../../support/kinds-upstream.js";
import { readCredentials } from "../../../src/accounts/vault.js";
import { refreshAccount } from "../../../src/accounts/refresh.js";

const CLIENT = { id: "broker-at-kinds", secret: "kinds-client-secret-0123456789" };
const API_KEY = "key-live-0123456789abcdef";
const PASSWORD = "correct horse battery staple 42";

describe("connect pages for typed credentials", () => {
  let upstream: KindsUpstream;
  let broker: TestBroker;
  let app: TestApp;

  before(async () => {
    upstream = await startKindsUpstream({ client: CLIENT });
    upstream.acceptApiKey(API_KEY, { id: "key-owner-1", email: "keys@example.test", name: "Key Owner" });
    upstream.acceptBasic("ada", "basic-pass-123", { id: "ada-7", email: "ada@example.test", name: "Ada" });
    upstream.addUser("grace", PASSWORD, { id: "grace-9", email: "grace@example.test", name: "Grace" });
    const identity = { url: upstream.meUrl, subject: "id", email: "email", name: "name" };
    broker = await startTestBroker({
      connectors: {
        "keys.json": {
          id: "keys",
          name: "Keyed Service",
          auth: { kind: "api_key", fields: [{ name: "apiKey", label: "API key", secret: true, description: "From your account settings." }] },
          api: { baseUrl: upstream.apiUrl, credentials: "header:X-Api-Key" },
          identity,
        },
        "basic.json": { id: "basic", name: "Basic Service", auth: { kind: "basic" }, api: { baseUrl: upstream.apiUrl }, identity },
        "pw.json": {
          id: "pw",
          name: "Password Service",
          auth: { kind: "password_grant", tokenUrl: upstream.tokenUrl, usernameLabel: "Email or user name", clientId: CLIENT.id, clientSecret: CLIENT.secret },
          scopes: { read: ["read"] },
          defaultScopes: ["read"],
          api: { baseUrl: upstream.apiUrl },
          identity,
        },
      },
    });
    app = await registerTestApp(broker);
  });

  after(async () => {
    await broker?.stop();
    await upstream?.close();
  });

  interface Started {
    browser: TestBrowser;
    page: BrowserResponse;
    verifier: string;
    state: string;
  }

  async function startConnect(connector: string): Promise<Started> {
    const browser = new TestBrowser();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(app.config, {
      redirect_uri: TEST_APP_REDIRECT,
      scope: "openid proxy",
      connector,
      state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
    });
    const page = await browser.navigate(url, { stopAt: (u) => u.href.startsWith(TEST_APP_REDIRECT) });
    return { browser, page, verifier, state };
  }

  const toApp = { stopAt: (u: URL) => u.href.startsWith(TEST_APP_REDIRECT) };

  async function exchange(started: Started, back: URL): Promise<string> {
    const tokens = await client.authorizationCodeGrant(app.config, back, {
      pkceCodeVerifier: started.verifier,
      expectedState: started.state,
      idTokenExpected: true,
    });
    return String(decodeJwt(tokens.access_token).acct);
  }

  function input(page: BrowserResponse, name: string) {
    return parse(page.body).querySelector(`input[name="${name}"]`);
  }

  async function everyRowAsText(): Promise<string> {
    const tables = await broker.services.db.$queryRawUnsafe<{ tablename: string }[]>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`);
    let text = "";
    for (const { tablename } of tables)
      text += JSON.stringify(await broker.services.db.$queryRawUnsafe(`SELECT * FROM "${tablename}"`), (_k, v) => (typeof v === "bigint" ? String(v) : v));
    return text;
  }

  describe("api_key", () => {
    it("shows an accessible form built from the connector's fields: labelled, secret as a password input, no script", async () => {
      const { page } = await startConnect("keys");
      assert.equal(page.status, 200);
      assert.equal(page.url.pathname, "/connect/credentials");
      const key = input(page, "apiKey")!;
      assert.equal(key.getAttribute("type"), "password");
      assert.equal(key.getAttribute("autocomplete"), "off");
      assert.ok(key.hasAttribute("required"));
      const root = parse(page.body);
      assert.equal(root.querySelector(`label[for="${key.getAttribute("id")}"]`)?.text, "API key");
      assert.equal(key.getAttribute("aria-describedby"), `${key.getAttribute("id")}-hint`);
      assert.match(root.querySelector(`#${key.getAttribute("id")}-hint`)!.text, /From your account settings/);
      assert.ok(!/<script/i.test(page.body), "the page works without JavaScript");
      assert.ok(input(page, "csrf")?.getAttribute("value"), "the form carries a CSRF token");
      assert.match(page.headers.get("content-security-policy") ?? "", /form-action 'self' http:\/\/127\.0\.0\.1:9/);
      assert.equal(page.headers.get("x-frame-options"), "DENY");
    });

    it("a key the upstream accepts connects an account whose fields are sealed, and the app gets its code (303)", async () => {
      const started = await startConnect("keys");
      const back = await started.browser.submitForm(started.page, { fields: { apiKey: API_KEY }, ...toApp });
      assert.equal(back.status, 303);
      assert.ok(back.url.searchParams.get("code"));
      const accountId = await exchange(started, back.url);
      const account = await broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } });
      assert.equal(account.upstreamSubject, "key-owner-1");
      assert.deepEqual(account.profile, { email: "keys@example.test", name: "Key Owner" });
      const identityCall = upstream.requests.filter((r) => r.path === "/me").at(-1)!;
      assert.equal(identityCall.authorization, undefined, "sent as api.credentials says (X-Api-Key), not as a bearer token");
      const row = await broker.services.db.credential.findUniqueOrThrow({ where: { accountId } });
      assert.match(String(row.sealedFields), /^v1\./);
      assert.ok(!(await everyRowAsText()).includes(API_KEY), "the key is nowhere in the database in clear");
      assert.deepEqual((await readCredentials(broker.services.db, broker.services.keyring, accountId))?.fields, { apiKey: API_KEY });
    });

    it("a refused key is shown on the form next to the field, nothing is stored, and the form can be corrected", async () => {
      const accountsBefore = await broker.services.db.account.count();
      const started = await startConnect("keys");
      const wrong = "key-wrong-000000000000";
      const again = await started.browser.submitForm(started.page, { fields: { apiKey: wrong }, ...toApp });
      assert.equal(again.status, 200);
      assert.equal(again.url.pathname, "/connect/credentials", "303 back to the form (reloading does not post again)");
      assert.ok(again.chain.length >= 2);
      const root = parse(again.body);
      assert.match(root.querySelector('[role="alert"]')!.text, /did not accept these credentials/);
      const key = input(again, "apiKey")!;
      assert.equal(key.getAttribute("aria-invalid"), "true");
      const errorId = `${key.getAttribute("id")}-error`;
      assert.ok(key.getAttribute("aria-describedby")!.split(" ").includes(errorId));
      assert.match(root.querySelector(`#${errorId}`)!.text, /did not accept/);
      assert.ok(!again.body.includes(wrong), "a typed secret is never shown again");
      assert.equal(await broker.services.db.account.count(), accountsBefore, "nothing stored");
      const back = await started.browser.submitForm(again, { fields: { apiKey: API_KEY }, ...toApp });
      assert.ok(back.url.searchParams.get("code"), "the corrected key connects");
    });

    it("an empty field is refused by the form itself, before the upstream is asked", async () => {
      const started = await startConnect("keys");
      const identityCalls = upstream.requests.filter((r) => r.path === "/me").length;
      const again = await started.browser.submitForm(started.page, { fields: { apiKey: "" }, ...toApp });
      assert.match(parse(again.body).querySelector('[role="alert"]')!.text, /API key is required/);
      assert.equal(upstream.requests.filter((r) => r.path === "/me").length, identityCalls);
    });
  });

  describe("basic", () => {
    it("checks the user name and password once with HTTP Basic and keeps them sealed", async () => {
      const started = await startConnect("basic");
      assert.equal(input(started.page, "username")?.getAttribute("autocomplete"), "username");
      assert.equal(input(started.page, "password")?.getAttribute("type"), "password");
      assert.equal(input(started.page, "password")?.getAttribute("autocomplete"), "current-password");
      const back = await started.browser.submitForm(started.page, { fields: { username: "ada", password: "basic-pass-123" }, ...toApp });
      const accountId = await exchange(started, back.url);
      assert.equal((await broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } })).upstreamSubject, "ada-7");
      assert.equal(upstream.requests.filter((r) => r.path === "/me").at(-1)!.authorization, `Basic ${Buffer.from("ada:basic-pass-123").toString("base64")}`);
      assert.deepEqual((await readCredentials(broker.services.db, broker.services.keyring, accountId))?.fields, {
        username: "ada",
        password: "basic-pass-123",
      });
    });

    it("a wrong password keeps the user name on the form, never the password", async () => {
      const started = await startConnect("basic");
      const again = await started.browser.submitForm(started.page, { fields: { username: "ada", password: "nope-wrong-pass" }, ...toApp });
      assert.equal(input(again, "username")?.getAttribute("value"), "ada");
      assert.equal(input(again, "password")?.getAttribute("value"), undefined);
      assert.ok(!again.body.includes("nope-wrong-pass"));
      assert.match(parse(again.body).querySelector('[role="alert"]')!.text, /Basic Service did not accept these credentials/);
    });
  });

  describe("password_grant", () => {
    it("exchanges the password once for tokens; the password is in no table, no log line and no Redis value", async () => {
      const started = await startConnect("pw");
      const root = parse(started.page.body);
      assert.equal(root.querySelector(`label[for="${input(started.page, "username")!.getAttribute("id")}"]`)?.text, "Email or user name");
      assert.match(started.page.body, /is not kept/);
      const back = await started.browser.submitForm(started.page, { fields: { username: "grace", password: PASSWORD }, ...toApp });
      const accountId = await exchange(started, back.url);
      const form = upstream.requests.filter((r) => r.form?.grant_type === "password").at(-1)!.form!;
      assert.deepEqual([form.username, form.password, form.scope], ["grace", PASSWORD, "read"]);
      const account = await broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } });
      assert.equal(account.upstreamSubject, "grace-9");
      const stored = await readCredentials(broker.services.db, broker.services.keyring, accountId);
      assert.ok(stored?.accessToken && stored.refreshToken);
      assert.equal(stored.fields, undefined, "no typed value is kept for a password grant");

      assert.ok(!(await everyRowAsText()).includes(PASSWORD), "the password is not in the database");
      assert.ok(!broker.services.logs.text.includes(PASSWORD), "the password is not in the logs");
      const keys = await broker.services.redis.keys("connect:*");
      for (const key of keys) assert.ok(!((await broker.services.redis.get(key)) ?? "").includes(PASSWORD));

      // The account refreshes like any other: the refresh token, not the password.
      const refreshed = await refreshAccount(broker.services, accountId, { force: true });
      assert.equal(refreshed.outcome, "refreshed");
      assert.equal(upstream.requests.at(-1)?.form?.grant_type, "refresh_token");
    });

    it("a wrong password is shown on the form (invalid_grant), and is not kept anywhere either", async () => {
      const started = await startConnect("pw");
      const wrongPassword = "wrong-password-987654";
      const again = await started.browser.submitForm(started.page, { fields: { username: "grace", password: wrongPassword }, ...toApp });
      assert.equal(again.url.pathname, "/connect/credentials");
      assert.match(parse(again.body).querySelector('[role="alert"]')!.text, /did not accept this user name and password/);
      assert.equal(input(again, "password")?.getAttribute("aria-invalid"), "true");
      assert.ok(!(await everyRowAsText()).includes(wrongPassword));
      assert.ok(!broker.services.logs.text.includes(wrongPassword));
    });
  });

  describe("protection of the forms", () => {
    async function postDirect(started: Started, fields: Record<string, string>, headers: Record<string, string> = {}) {
      const form = started.browser.forms(started.page)[0]!;
      const body = new URLSearchParams(form.fields);
      for (const [k, v] of Object.entries(fields)) body.set(k, v);
      return started.browser.fetch(form.action, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: new URL(broker.url).origin, ...headers },
        body: body.toString(),
      });
    }

    it("a submission without the CSRF token, or with a wrong one, is refused and connects nothing", async () => {
      const started = await startConnect("keys");
      const accounts = await broker.services.db.account.count();
      const missing = await postDirect(started, { apiKey: API_KEY, csrf: "" });
      assert.equal(missing.status, 403);
      assert.match(await missing.text(), /did not come from this page/);
      const wrong = await postDirect(started, { apiKey: API_KEY, csrf: "A".repeat(43) });
      assert.equal(wrong.status, 403);
      assert.equal(await broker.services.db.account.count(), accounts);
      // The real token still works: the refusals did not use up the connect.
      const back = await started.browser.submitForm(started.page, { fields: { apiKey: API_KEY }, ...toApp });
      assert.ok(back.url.searchParams.get("code"));
    });

    it("a form posted from another browser (without the connect's cookie) or another origin is refused", async () => {
      const started = await startConnect("keys");
      const form = started.browser.forms(started.page)[0]!;
      const body = new URLSearchParams(form.fields);
      body.set("apiKey", API_KEY);
      const otherBrowser = await new TestBrowser().fetch(form.action, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: body.toString(),
      });
      assert.equal(otherBrowser.status, 403);
      assert.match(await otherBrowser.text(), /started in another browser/);
      const crossSite = await postDirect(started, { apiKey: API_KEY }, { origin: "https://evil.example" });
      assert.equal(crossSite.status, 403);
    });

    it("a second submission of the same form does not connect twice", async () => {
      const started = await startConnect("keys");
      const first = await started.browser.submitForm(started.page, { fields: { apiKey: API_KEY }, ...toApp });
      assert.ok(first.url.searchParams.get("code"));
      const second = await started.browser.submitForm(started.page, { fields: { apiKey: API_KEY }, ...toApp });
      assert.equal(second.stopped, false, "no second code for the app");
      assert.equal(second.status, 400);
      assert.match(second.body, /expired or was already used/);
    });

    it("Cancel sends the app access_denied with its state", async () => {
      const started = await startConnect("keys");
      const back = await started.browser.submitForm(started.page, { button: "Cancel", ...toApp });
      assert.equal(back.status, 303);
      assert.equal(back.url.searchParams.get("error"), "access_denied");
      assert.equal(back.url.searchParams.get("state"), started.state);
    });

    it("an unknown or expired connect id shows an error page, never a form", async () => {
      const page = await new TestBrowser().navigate(`${broker.url}/connect/credentials?connect=${"x".repeat(22)}`);
      assert.equal(page.status, 400);
      assert.match(page.body, /expired or was already used/);
      assert.equal(new TestBrowser().forms(page).length, 0);
    });
  });
});
