/**
 * `response_mode=web_message` (OAuth 2.0 Web Message Response Mode) and the
 * connect widget's script, `GET /connect.js`: the page that posts the
 * authorization response to the app's window, addressed to the registered
 * redirect URI's origin, under a CSP that runs only its own script; errors
 * delivered the same way; a request the broker cannot trust (unknown
 * redirect URI) never gets a message page. openid-client plays the app,
 * TestBrowser the end user. The popup itself runs in Chromium
 * (e2e/demo-widget.test.ts).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Script } from "node:vm";
import * as client from "openid-client";
import { parse } from "node-html-parser";
import { TestBrowser, type BrowserResponse } from "../../support/browser.js";
import { APP_REDIRECT, registerApp, startAsFixture, type AsFixture, type FixtureApp } from "../../support/as-fixture.js";
import { launchChromium, type TestChromium } from "../../support/chromium.js";

const APP_ORIGIN = new URL(APP_REDIRECT).origin;
const NATIVE_REDIRECT = "com.example.files:/oauth/callback";
const HTTPS_REDIRECT = "https://files.example.test/oauth/callback";
const toApp = { stopAt: (u: URL) => u.href.startsWith(APP_REDIRECT) || u.href.startsWith(NATIVE_REDIRECT) };

interface MessagePage {
  origin: string | undefined;
  response: Record<string, string>;
  script: string | undefined;
}

/** What a web_message page would post, read from its data attributes, and its one script. */
function messageOf(page: BrowserResponse): MessagePage {
  const root = parse(page.body);
  const data = root.getElementById("authorization-response");
  assert.ok(data, `a message page: ${page.body.slice(0, 300)}`);
  return {
    origin: data.getAttribute("data-origin"),
    response: JSON.parse(data.getAttribute("data-response") ?? "null") as Record<string, string>,
    script: root.querySelector("script")?.textContent,
  };
}

describe("response_mode=web_message and the connect widget's script", () => {
  let fixture: AsFixture;
  let app: FixtureApp;
  let nativeApp: FixtureApp;
  let httpsApp: FixtureApp;
  let userId = 7000;

  before(async () => {
    fixture = await startAsFixture();
    const scopes = ["openid", "email", "profile", "offline_access", "proxy"];
    app = await registerApp(fixture, { scopes });
    nativeApp = await registerApp(fixture, { scopes, isPublic: true, redirectUris: [NATIVE_REDIRECT] });
    httpsApp = await registerApp(fixture, { scopes, redirectUris: [HTTPS_REDIRECT] });
  });

  after(async () => {
    await fixture?.close();
  });

  function newUser(): void {
    userId += 1;
    fixture.github.setUser({ id: userId, login: `u${userId}`, email: `u${userId}@example.test`, name: `User ${userId}` });
  }

  function authorizeUrl(params: Record<string, string>, of: FixtureApp = app): URL {
    const url = new URL("/oauth/authorize", fixture.broker.url);
    const defaults = { client_id: of.id, redirect_uri: APP_REDIRECT, response_type: "code", connector: "gh", scope: "openid proxy", state: "st-wm" };
    for (const [k, v] of Object.entries({ ...defaults, ...params })) url.searchParams.set(k, v);
    return url;
  }

  async function pkce(): Promise<{ verifier: string; params: Record<string, string> }> {
    const verifier = client.randomPKCECodeVerifier();
    return { verifier, params: { code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256" } };
  }

  it("a code is posted to the redirect URI's origin, under a CSP that runs only the page's own script, and exchanges as usual", async () => {
    newUser();
    const { verifier, params } = await pkce();
    const nonce = client.randomNonce();
    const page = await new TestBrowser().navigate(authorizeUrl({ response_mode: "web_message", nonce, ...params }), toApp);
    assert.equal(page.stopped, false, "web_message never redirects to the app");
    assert.equal(page.status, 200);
    assert.match(page.body, /<title>Returning to the app/);
    const message = messageOf(page);
    assert.equal(message.origin, APP_ORIGIN, "addressed to the registered redirect URI's origin, never *");
    assert.equal(message.response.state, "st-wm");
    assert.equal(message.response.iss, fixture.broker.url);
    assert.ok(message.response.code);

    const csp = page.headers.get("content-security-policy") ?? "";
    assert.ok(message.script, "the page posts by script");
    assert.match(message.script, /postMessage\(/);
    assert.doesNotMatch(message.script, /\*/, "no wildcard target in the script");
    assert.ok(csp.includes(`script-src 'sha256-${createHash("sha256").update(message.script).digest("base64")}'`), "only that script may run");
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers.get("cache-control"), "no-store");
    assert.equal(page.headers.get("referrer-policy"), "same-origin");

    // The app exchanges the code as it would one from a redirect: the redirect URI is the registered one.
    const callback = new URL(APP_REDIRECT);
    for (const [k, v] of Object.entries(message.response)) callback.searchParams.set(k, v);
    const tokens = await client.authorizationCodeGrant(app.config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: "st-wm",
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    assert.ok(tokens.access_token);
  });

  it("an error of the request is posted the same way, with state and iss", async () => {
    // No PKCE: refused before the end user is sent anywhere.
    const page = await new TestBrowser().navigate(authorizeUrl({ response_mode: "web_message" }), toApp);
    assert.equal(page.stopped, false);
    const message = messageOf(page);
    assert.equal(message.origin, APP_ORIGIN);
    assert.equal(message.response.error, "invalid_request");
    assert.match(message.response.error_description ?? "", /PKCE/);
    assert.equal(message.response.state, "st-wm");
    assert.equal(message.response.iss, fixture.broker.url);
    assert.equal(message.response.code, undefined);
  });

  it("an upstream denial reaches the app as access_denied by message", async () => {
    newUser();
    fixture.github.denyNext();
    const { params } = await pkce();
    const page = await new TestBrowser().navigate(authorizeUrl({ response_mode: "web_message", ...params }), toApp);
    const message = messageOf(page);
    assert.equal(message.origin, APP_ORIGIN);
    assert.equal(message.response.error, "access_denied");
    assert.equal(message.response.state, "st-wm");
  });

  it("a redirect URI that is not registered gets the broker's error page: no message, no script, nothing addressed to it", async () => {
    const { params } = await pkce();
    const page = await new TestBrowser().navigate(
      authorizeUrl({ response_mode: "web_message", redirect_uri: "http://127.0.0.1:9/elsewhere", ...params }),
      toApp,
    );
    assert.equal(page.status, 400);
    assert.equal(page.stopped, false);
    assert.equal(parse(page.body).getElementById("authorization-response"), null);
    assert.doesNotMatch(page.body, /<script/);
    assert.doesNotMatch(page.headers.get("content-security-policy") ?? "", /script-src/);
  });

  it("web_message with a custom-scheme redirect URI is refused with invalid_request, sent by redirect (there is no origin to post to)", async () => {
    const { params } = await pkce();
    const back = await new TestBrowser().navigate(authorizeUrl({ response_mode: "web_message", redirect_uri: NATIVE_REDIRECT, ...params }, nativeApp), toApp);
    assert.equal(back.stopped, true, "redirected to the app, not posted");
    assert.ok(back.url.href.startsWith(NATIVE_REDIRECT));
    assert.equal(back.url.searchParams.get("error"), "invalid_request");
    assert.match(back.url.searchParams.get("error_description") ?? "", /web_message/);
    assert.equal(back.url.searchParams.get("state"), "st-wm");
  });

  it("form_post to a custom-scheme redirect URI: the page's CSP allows that scheme as the form's action (it has no origin)", async () => {
    const { params } = await pkce();
    const browser = new TestBrowser();
    // PKCE with the plain method: refused, the error posted to the native app.
    const page = await browser.navigate(
      authorizeUrl(
        { response_mode: "form_post", response_type: "code", redirect_uri: NATIVE_REDIRECT, state: "st-native", ...params, code_challenge_method: "plain" },
        nativeApp,
      ),
      toApp,
    );
    assert.equal(page.status, 200, page.body);
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /form-action 'self' com\.example\.files:;/);
    const posted = await browser.submitForm(page, toApp);
    assert.ok(posted.url.href.startsWith(NATIVE_REDIRECT), posted.url.href);
    assert.equal(posted.submitted?.get("error"), "invalid_request");
    assert.equal(posted.submitted?.get("state"), "st-native");
  });

  it("an https redirect URI: the message is addressed to its origin, and a form_post page may submit to it", async () => {
    // No PKCE: the error comes back at once, by the mode asked for.
    const message = messageOf(
      await new TestBrowser().navigate(authorizeUrl({ response_mode: "web_message", redirect_uri: HTTPS_REDIRECT, state: "st-https" }, httpsApp), toApp),
    );
    assert.equal(message.origin, "https://files.example.test");
    assert.equal(message.response.error, "invalid_request");
    assert.equal(message.response.state, "st-https");
    const page = await new TestBrowser().navigate(authorizeUrl({ response_mode: "form_post", redirect_uri: HTTPS_REDIRECT }, httpsApp), toApp);
    assert.equal(page.status, 200, page.body);
    assert.match(page.headers.get("content-security-policy") ?? "", /form-action 'self' https:\/\/files\.example\.test;/);
  });

  describe("the page's script in Chromium", () => {
    let chromium: TestChromium;
    before(async () => {
      chromium = await launchChromium();
      // The app's page, at the redirect URI's origin (nothing listens there: Chromium is answered here): opens the popup and keeps what is posted to it.
      await chromium.context.route(`${APP_ORIGIN}/**`, (route) =>
        route.fulfill({
          contentType: "text/html",
          body: '<!doctype html><title>App</title><script>window.received=[];addEventListener("message",function(e){window.received.push({origin:e.origin,data:e.data})});</script>',
        }),
      );
    });
    after(async () => {
      await chromium?.close();
    });

    it("posts the response to the window that opened it, from the broker's origin", async () => {
      const opener = await chromium.newPage();
      await opener.goto(`${APP_ORIGIN}/app`);
      // No PKCE: the broker answers at once with the error's message page.
      // Strings, not functions: the tests compile without the DOM's types.
      await opener.evaluate(`window.open(${JSON.stringify(authorizeUrl({ response_mode: "web_message", state: "st-popup" }).href)}, "broker"); undefined`);
      await opener.waitForFunction("window.received.length > 0");
      const received = (await opener.evaluate("window.received")) as { origin: string; data: { type: string; response: Record<string, string> } }[];
      assert.equal(received.length, 1);
      assert.equal(received[0]!.origin, new URL(fixture.broker.url).origin);
      assert.equal(received[0]!.data.type, "authorization_response");
      assert.deepEqual(
        { error: received[0]!.data.response.error, state: received[0]!.data.response.state, iss: received[0]!.data.response.iss },
        { error: "invalid_request", state: "st-popup", iss: fixture.broker.url },
      );
    });

    it("without an opener (opened by hand), tells the end user to go back to the app instead", async () => {
      const page = await chromium.newPage();
      await page.goto(authorizeUrl({ response_mode: "web_message", state: "st-alone" }).href);
      await page.locator("#no-opener").waitFor({ state: "visible" });
      assert.equal(await page.locator("#no-opener").innerText(), "This window lost its link to the app. Close it and start again from the app.");
    });
  });

  it("an unknown response_mode is refused with invalid_request at the redirect URI", async () => {
    const { params } = await pkce();
    const back = await new TestBrowser().navigate(authorizeUrl({ response_mode: "web_messages", ...params }), toApp);
    assert.equal(back.stopped, true);
    assert.equal(back.url.searchParams.get("error"), "invalid_request");
    assert.match(back.url.searchParams.get("error_description") ?? "", /response_mode "web_messages" is not supported/);
  });

  it("discovery advertises web_message", async () => {
    const body = (await (await fetch(new URL("/.well-known/openid-configuration", fixture.broker.url))).json()) as { response_modes_supported: string[] };
    assert.ok(body.response_modes_supported.includes("web_message"));
  });

  describe("GET /connect.js", () => {
    it("is JavaScript that names this broker's authorization endpoint, cached and revalidated by its ETag", async () => {
      const res = await fetch(new URL("/connect.js", fixture.broker.url));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/javascript; charset=utf-8");
      assert.equal(res.headers.get("cache-control"), "public, max-age=3600, must-revalidate");
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      assert.equal(res.headers.get("cross-origin-resource-policy"), "cross-origin");
      const etag = res.headers.get("etag");
      assert.match(etag ?? "", /^"[A-Za-z0-9_-]+"$/);
      const body = await res.text();
      assert.ok(body.includes(JSON.stringify(`${fixture.broker.url}/oauth/authorize`)));
      assert.ok(body.length < 8000, `small: ${body.length} bytes`);
      assert.doesNotThrow(() => new Script(body, { filename: "connect.js" }), "it parses");

      const again = await fetch(new URL("/connect.js", fixture.broker.url), { headers: { "if-none-match": etag! } });
      assert.equal(again.status, 304);
      assert.equal(await again.text(), "");
      assert.equal(again.headers.get("etag"), etag);
      const changed = await fetch(new URL("/connect.js", fixture.broker.url), { headers: { "if-none-match": '"something-else"' } });
      assert.equal(changed.status, 200);
    });
  });
});
