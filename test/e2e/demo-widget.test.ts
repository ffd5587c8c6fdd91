/**
 * The connect widget in a real browser (Chromium): the sample app's /widget
 * page includes the broker's /connect.js, which opens the connect flow in a
 * popup and hands the code back to the page by postMessage
 * (response_mode=web_message); the page's server exchanges it. Also: a
 * denial comes back as an error, a popup the user closes rejects with
 * popup_closed, and a blocked popup falls back to a full-page redirect that
 * still completes. Screenshots go to test-results/e2e/.
 */
import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { launchChromium, type TestChromium } from "../support/chromium.js";
import { chooseService, signInAtAcmeCloud as signIn, startTestDemo, type TestDemo } from "../support/demo.js";

describe("the connect widget in Chromium: the sample app's /widget page connects in a popup", () => {
  let demo: TestDemo;
  let chromium: TestChromium;

  before(async () => {
    [demo, chromium] = await Promise.all([startTestDemo(), launchChromium()]);
  });

  after(async () => {
    await chromium?.close();
    await demo?.teardown();
  });

  beforeEach(async () => {
    // Signed out everywhere: Acme Cloud remembers a signed-in user's consent and would answer without showing a page.
    await chromium.context.clearCookies();
  });

  /** Signs in at Acme Cloud and waits for its consent page. */
  async function throughAcmeLogin(page: Page, username: string, password: string): Promise<void> {
    await page.waitForURL((url) => url.href.startsWith(demo.acmeCloudUrl));
    await page.getByRole("heading", { name: "Sign in to Acme Cloud" }).waitFor();
    await signIn(page, username, password);
    await page.getByRole("heading", { name: /Authorize/ }).waitFor();
  }

  function widgetStatus(page: Page) {
    return page.getByTestId("widget-status");
  }

  it("opens the broker's picker in a popup, connects, and the page gets the code and exchanges it", async () => {
    const page = await chromium.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    page.on("console", (msg) => {
      if (msg.type() === "error") pageErrors.push(msg.text());
    });
    await page.goto(`${demo.appUrl}/widget`);
    await chromium.screenshot(page, "widget-01-page");

    const [popup] = await Promise.all([page.waitForEvent("popup"), page.getByRole("button", { name: "Choose a service in a popup…" }).click()]);
    await popup.waitForURL((url) => url.href.startsWith(`${demo.brokerUrl}/connect/start`));
    await popup.getByRole("heading", { name: "Connect an account" }).waitFor();
    await chromium.screenshot(popup, "widget-02-popup-picker");
    assert.equal(page.url(), `${demo.appUrl}/widget`, "the app's page stays where it is");
    await chooseService(popup, "Acme Cloud");
    await throughAcmeLogin(popup, "alice", "wonderland");
    // The broker's web_message page posts the response; the widget closes the popup (waited for from before the click: it is quick).
    const closed = popup.waitForEvent("close");
    await popup.getByRole("button", { name: "Allow" }).click();
    await closed;
    const status = widgetStatus(page);
    await status.filter({ hasText: /Connected your acme-cloud account/ }).waitFor();
    await chromium.screenshot(page, "widget-03-connected");
    const accountId = /account (\S+)\.$/.exec(await status.innerText())?.[1];
    assert.ok(accountId, await status.innerText());
    assert.equal(page.url(), `${demo.appUrl}/widget`, "never navigated away");

    const account = await demo.broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } });
    assert.equal(account.connectorId, "acme-cloud");
    assert.equal(account.upstreamSubject, "acme-user-1001");
    assert.equal(account.appId, demo.appClientId);

    // The app's session holds the tokens it exchanged the code for: its main page shows the files through the proxy.
    await page.goto(demo.appUrl);
    await page.getByTestId("files").waitFor();
    assert.equal((await page.getByTestId("account-id").innerText()).trim(), accountId);
    assert.deepEqual(pageErrors, [], "no script error and no CSP violation on the app's page");
    await page.close();
  });

  it("a denial in the popup reaches the page as access_denied", async () => {
    const page = await chromium.newPage();
    await page.goto(`${demo.appUrl}/widget`);
    const [popup] = await Promise.all([page.waitForEvent("popup"), page.getByRole("button", { name: "Connect Acme Cloud in a popup" }).click()]);
    await throughAcmeLogin(popup, "bob", "builder");
    const closed = popup.waitForEvent("close");
    await popup.getByRole("button", { name: "Deny" }).click();
    await closed;
    await widgetStatus(page)
      .filter({ hasText: /did not complete: access_denied/ })
      .waitFor();
    await chromium.screenshot(page, "widget-04-denied");
    await page.close();
  });

  it("a popup the user closes rejects with popup_closed, and the page says so", async () => {
    const page = await chromium.newPage();
    await page.goto(`${demo.appUrl}/widget`);
    const [popup] = await Promise.all([page.waitForEvent("popup"), page.getByRole("button", { name: "Connect Acme Cloud in a popup" }).click()]);
    await popup.waitForURL((url) => url.href.startsWith(demo.acmeCloudUrl));
    // A message that is not the broker's (here: the app's own origin, not from the popup) is ignored, whatever it says:
    // had the widget taken it, the page would say the exchange failed, never popup_closed.
    const state = await page.locator("#widget-request").getAttribute("data-state");
    await page.evaluate(`window.postMessage({ type: "authorization_response", response: { code: "forged", state: ${JSON.stringify(state)} } }, "*")`);
    await popup.close();
    await widgetStatus(page)
      .filter({ hasText: /did not complete: popup_closed/ })
      .waitFor();
    await chromium.screenshot(page, "widget-05-popup-closed");
    assert.equal(page.url(), `${demo.appUrl}/widget`);
    await page.close();
  });

  it("a redirect URI on another origin than the page's is refused at once, with no popup (the response could never arrive)", async () => {
    const page = await chromium.newPage();
    await page.goto(`${demo.appUrl}/widget`);
    let popups = 0;
    page.on("popup", () => (popups += 1));
    const error = await page.evaluate(
      `authbroker.connect({ clientId: "app_x", redirectUri: "https://elsewhere.example/callback" }).then(() => "resolved", (e) => e.error + ": " + e.error_description)`,
    );
    assert.match(String(error), /^invalid_request: redirectUri must be an absolute URL on this page's origin/);
    assert.equal(popups, 0);
    await page.close();
  });

  it("a blocked popup falls back to a full-page redirect, which still completes at the app", async () => {
    const page = await chromium.newPage();
    // What a popup blocker does: window.open returns null.
    await page.addInitScript("window.open = function () { return null; };");
    let popups = 0;
    page.on("popup", () => (popups += 1));
    await page.goto(`${demo.appUrl}/widget`);
    await page.getByRole("button", { name: "Connect Acme Cloud in a popup" }).click();

    // The page itself goes to the broker, then Acme Cloud, with the ordinary response mode.
    await throughAcmeLogin(page, "bob", "builder");
    await chromium.screenshot(page, "widget-06-blocked-redirected");
    await page.getByRole("button", { name: "Allow" }).click();
    await page.waitForURL(`${demo.appUrl}/widget`);
    await page.getByRole("status").filter({ hasText: "Connected your acme-cloud account." }).waitFor();
    const accountId = (await page.getByTestId("widget-account-id").innerText()).trim();
    const account = await demo.broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } });
    assert.equal(account.upstreamSubject, "acme-user-1002");
    assert.equal(popups, 0);
    await chromium.screenshot(page, "widget-07-blocked-completed");
    await page.close();
  });
});
