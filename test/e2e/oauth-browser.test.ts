/**
 * The authorization server's browser-side behaviour in a real browser
 * (Chromium), where TestBrowser can only imitate it: the `form_post` page
 * submits itself under its CSP (the script allowed by its hash alone), and
 * the /device forms work with what Chromium really sends — `Origin: null`
 * from a no-referrer page, the `SameSite=Strict` CSRF cookie.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as client from "openid-client";
import { launchChromium, type TestChromium } from "../support/chromium.js";
import { registerApp, startAsFixture, type AsFixture, type FixtureApp } from "../support/as-fixture.js";

describe("the authorization server in Chromium", () => {
  let fixture: AsFixture;
  let chromium: TestChromium;
  let appServer: Server;
  let appCallback: string;
  let posted: ((body: URLSearchParams) => void) | undefined;
  let app: FixtureApp;
  let tv: FixtureApp;

  before(async () => {
    // The app's redirect URI, served for real: it records what the browser POSTs to it.
    appServer = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (req.method === "POST") posted?.(new URLSearchParams(Buffer.concat(chunks).toString("utf8")));
        res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>App</title><h1>Signed in</h1>");
      });
    });
    await new Promise<void>((resolve) => appServer.listen(0, "127.0.0.1", resolve));
    appCallback = `http://127.0.0.1:${(appServer.address() as AddressInfo).port}/callback`;
    [fixture, chromium] = await Promise.all([startAsFixture(), launchChromium()]);
    app = await registerApp(fixture, { redirectUris: [appCallback], responseTypes: ["code", "id_token"], scopes: ["openid", "email", "proxy"] });
    tv = await registerApp(fixture, {
      name: "Living-room TV",
      isPublic: true,
      redirectUris: [],
      grantTypes: ["urn:ietf:params:oauth:grant-type:device_code"],
      scopes: ["proxy"],
    });
  });

  after(async () => {
    await chromium?.close();
    await fixture?.close();
    await new Promise((resolve) => appServer?.close(resolve));
  });

  it("a form_post response submits itself to the app under the page's CSP", async () => {
    fixture.github.setUser({ id: 12_001, login: "fp", email: "fp@example.test", name: "Form Post" });
    const received = new Promise<URLSearchParams>((resolve) => (posted = resolve));
    const url = new URL("/oauth/authorize", fixture.broker.url);
    url.search = new URLSearchParams({
      client_id: app.id,
      redirect_uri: appCallback,
      response_type: "id_token",
      response_mode: "form_post",
      scope: "openid email",
      nonce: "n-e2e",
      state: "st-e2e",
      connector: "gh",
    }).toString();
    const page = await chromium.newPage();
    const violations: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    await page.goto(url.href);
    await page.waitForURL(appCallback);
    await page.getByRole("heading", { name: "Signed in" }).waitFor();
    const body = await received;
    assert.equal(body.get("state"), "st-e2e");
    assert.equal(body.get("iss"), fixture.broker.url);
    assert.ok(body.get("id_token"));
    assert.deepEqual(violations, [], "the auto-submit script is allowed by its hash");
    await chromium.screenshot(page, "oauth-form-post-received");
  });

  it("the device flow: type the code, confirm, connect; the device then gets its tokens", async () => {
    fixture.github.setUser({ id: 12_002, login: "tv", email: "tv@example.test", name: "TV Owner" });
    const started = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy", connector: "gh" });
    const page = await chromium.newPage();
    await page.goto(started.verification_uri);
    await page.getByLabel("Code").fill(started.user_code.toLowerCase().replace("-", ""));
    await chromium.screenshot(page, "oauth-device-01-code");
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByRole("heading", { name: "Connect Living-room TV?" }).waitFor();
    assert.match(await page.locator("main").innerText(), new RegExp(started.user_code));
    await chromium.screenshot(page, "oauth-device-02-confirm");
    await page.getByRole("button", { name: "GitHub-like" }).click();
    await page.getByRole("heading", { name: "You're all set" }).waitFor();
    await chromium.screenshot(page, "oauth-device-03-done");
    const tokens = await client.pollDeviceAuthorizationGrant(tv.config, { ...started, interval: 0 });
    assert.ok(tokens.access_token);
  });
});
