/**
 * Browser-facing policy of the authorization server in one place: which
 * endpoints answer cross-origin requests (CORS), the security headers of
 * every HTML page the flows show (RFC 9700 §4.16 clickjacking: CSP
 * frame-ancestors 'none' and X-Frame-Options DENY), and 303 after a POST.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import { TestBrowser, type BrowserResponse } from "../../support/browser.js";
import { APP_REDIRECT, connectAccount, registerApp, startAsFixture, type AsFixture, type FixtureApp } from "../../support/as-fixture.js";

const ORIGIN = "https://app.example";

describe("CORS, page security headers, 303 after POST", () => {
  let fixture: AsFixture;
  let app: FixtureApp;
  let tv: FixtureApp;
  let accessToken: string;

  before(async () => {
    fixture = await startAsFixture();
    app = await registerApp(fixture, { scopes: ["openid", "proxy", "offline_access"], responseTypes: ["code", "id_token"] });
    tv = await registerApp(fixture, { isPublic: true, grantTypes: ["urn:ietf:params:oauth:grant-type:device_code"], scopes: ["proxy"] });
    accessToken = (await connectAccount(fixture, app, "openid proxy")).access_token;
  });

  after(async () => {
    await fixture?.close();
  });

  function basic(): string {
    return `Basic ${Buffer.from(`${app.id}:${app.secret}`).toString("base64")}`;
  }

  describe("CORS", () => {
    const form = { "content-type": "application/x-www-form-urlencoded" };

    it("is open (no cookies) where browser apps call directly: discovery, JWKS, token, revocation, userinfo", async () => {
      const requests: [string, RequestInit][] = [
        ["/.well-known/openid-configuration", {}],
        ["/.well-known/oauth-authorization-server", {}],
        ["/oauth/jwks", {}],
        ["/oauth/token", { method: "POST", headers: { ...form, authorization: basic() }, body: "grant_type=client_credentials&scope=proxy" }],
        ["/oauth/revoke", { method: "POST", headers: { ...form, authorization: basic() }, body: "token=x" }],
        ["/oauth/userinfo", { headers: { authorization: `Bearer ${accessToken}` } }],
      ];
      for (const [path, init] of requests) {
        const response = await fetch(`${fixture.broker.url}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), origin: ORIGIN } });
        assert.equal(response.status, 200, path);
        assert.equal(response.headers.get("access-control-allow-origin"), "*", path);
        assert.equal(response.headers.get("access-control-allow-credentials"), null, `${path}: never with credentials`);
      }
      for (const path of ["/oauth/token", "/oauth/revoke", "/oauth/userinfo"]) {
        const preflight = await fetch(`${fixture.broker.url}${path}`, {
          method: "OPTIONS",
          headers: { origin: ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
        });
        assert.equal(preflight.status, 204, path);
        assert.equal(preflight.headers.get("access-control-allow-origin"), "*", path);
      }
    });

    it("is closed where no browser app belongs: authorization (top-level navigation only), introspection, device authorization", async () => {
      const authorize = new URL("/oauth/authorize", fixture.broker.url);
      authorize.search = new URLSearchParams({ client_id: app.id, redirect_uri: APP_REDIRECT, response_type: "code", scope: "proxy" }).toString();
      const requests: [string, RequestInit][] = [
        [authorize.href, {}],
        [`${fixture.broker.url}/oauth/introspect`, { method: "POST", headers: { ...form, authorization: basic() }, body: `token=${accessToken}` }],
        [`${fixture.broker.url}/oauth/device_authorization`, { method: "POST", headers: form, body: `client_id=${tv.id}&scope=proxy` }],
      ];
      for (const [url, init] of requests) {
        const response = await fetch(url, { ...init, redirect: "manual", headers: { ...(init.headers as Record<string, string>), origin: ORIGIN } });
        assert.ok(response.status < 500, url);
        assert.equal(response.headers.get("access-control-allow-origin"), null, url);
        const preflight = await fetch(url, { method: "OPTIONS", headers: { origin: ORIGIN, "access-control-request-method": "POST" } });
        assert.equal(preflight.headers.get("access-control-allow-origin"), null, `${url} preflight`);
      }
    });
  });

  describe("security headers on every HTML page of the flows", () => {
    function assertPageHeaders(page: BrowserResponse, name: string): void {
      assert.match(page.headers.get("content-type") ?? "", /text\/html/, name);
      const csp = page.headers.get("content-security-policy") ?? "";
      assert.match(csp, /frame-ancestors 'none'/, name);
      assert.match(csp, /default-src 'none'/, name);
      assert.equal(page.headers.get("x-frame-options"), "DENY", name);
      assert.equal(page.headers.get("x-content-type-options"), "nosniff", name);
      assert.equal(page.headers.get("referrer-policy"), "same-origin", name);
      assert.equal(page.headers.get("cache-control"), "no-store", name);
    }

    it("error page, picker, form_post page, callback error, device pages", async () => {
      const browser = new TestBrowser();
      const pages: [string, BrowserResponse][] = [];
      const authorize = (params: Record<string, string>) => {
        const url = new URL("/oauth/authorize", fixture.broker.url);
        url.search = new URLSearchParams({ client_id: app.id, redirect_uri: APP_REDIRECT, ...params }).toString();
        return browser.navigate(url, { stopAt: (u) => u.href.startsWith(APP_REDIRECT) });
      };
      pages.push(["error page", await authorize({ redirect_uri: "https://evil.example/cb", response_type: "code" })]);
      pages.push([
        "picker",
        await authorize({
          response_type: "code",
          scope: "proxy",
          code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
          code_challenge_method: "S256",
        }),
      ]);
      fixture.github.setUser({ id: 80_001, login: "h", email: "h@example.test", name: "H" });
      pages.push(["form_post", await authorize({ response_type: "id_token", response_mode: "form_post", scope: "openid", nonce: "n", connector: "gh" })]);
      pages.push(["web_message", await authorize({ response_type: "id_token", response_mode: "web_message", scope: "openid", nonce: "n", connector: "gh" })]);
      pages.push(["callback error", await browser.navigate(`${fixture.broker.url}/connect/callback?state=nope`)]);
      const started = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy", connector: "gh" });
      const entry = await browser.navigate(started.verification_uri_complete!);
      pages.push(["device code entry", entry]);
      const confirmation = await browser.submitForm(entry);
      pages.push(["device confirmation", confirmation]);
      pages.push(["device connected", await browser.submitForm(confirmation, { button: "gh" })]);
      pages.push(["device wrong code", await browser.submitForm(entry, { fields: { user_code: "BBBB-BBBB" } })]);
      await fixture.broker.services.redis.del(`device:failed-user-codes:${fixture.broker.url}:127.0.0.1`);
      const denied = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy", connector: "gh" });
      const deniedConfirmation = await browser.submitForm(await browser.navigate(denied.verification_uri_complete!));
      pages.push(["device denied", await browser.submitForm(deniedConfirmation, { button: "deny" })]);
      for (const [name, page] of pages) assertPageHeaders(page, name);
      assert.deepEqual(
        pages.map(([name, page]) => [name, page.status]),
        [
          ["error page", 400],
          ["picker", 200],
          ["form_post", 200],
          ["web_message", 200],
          ["callback error", 400],
          ["device code entry", 200],
          ["device confirmation", 200],
          ["device connected", 200],
          ["device wrong code", 400],
          ["device denied", 200],
        ],
      );
    });
  });

  describe("303 after POST", () => {
    it("a POSTed authorization request and a device decision answer 303, so a reload never re-posts", async () => {
      const authorize = await fetch(`${fixture.broker.url}/oauth/authorize`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ client_id: app.id, redirect_uri: APP_REDIRECT, response_type: "id_token", scope: "openid", nonce: "n", connector: "gh" }),
        redirect: "manual",
      });
      assert.equal(authorize.status, 303);
      assert.match(authorize.headers.get("location") ?? "", /^\/connect\/start\?connect=/, "handed to the connect flow");

      const started = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy", connector: "gh" });
      const browser = new TestBrowser();
      const confirmation = await browser.submitForm(await browser.navigate(started.verification_uri_complete!));
      const stopped = await browser.submitForm(confirmation, { button: "gh", stopAt: (u) => u.pathname === "/connect/start" });
      assert.equal(stopped.status, 303);
      const deny = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy", connector: "gh" });
      const denyConfirmation = await browser.submitForm(await browser.navigate(deny.verification_uri_complete!));
      const denied = await browser.submitForm(denyConfirmation, { button: "deny", stopAt: (u) => u.pathname === "/device" });
      assert.equal(denied.status, 303);
    });
  });
});
