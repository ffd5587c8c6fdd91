/**
 * The demo clicked through in a real browser (Chromium): the sample app's
 * Connect button, the broker's connector picker, Acme Cloud's login and
 * consent pages, the user's files fetched through the broker's proxy, and
 * Disconnect. Screenshots of every step go to test-results/e2e/.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { launchChromium, type TestChromium } from "../support/chromium.js";
import { chooseService, signInAtAcmeCloud as signIn, startTestDemo, type TestDemo } from "../support/demo.js";

describe("the demo in Chromium: an end user connects Acme Cloud to the sample app", () => {
  let demo: TestDemo;
  let chromium: TestChromium;

  before(async () => {
    [demo, chromium] = await Promise.all([startTestDemo(), launchChromium()]);
  });

  after(async () => {
    await chromium?.close();
    await demo?.teardown();
  });

  it("connects through the picker, signs in upstream, consents, and sees the files fetched through the proxy", async () => {
    const page = await chromium.newPage();
    await page.goto(demo.appUrl);
    await chromium.screenshot(page, "connect-01-sample-app");
    await page.getByRole("button", { name: "Choose a service…" }).click();

    // The broker's picker: the app's name, the demo's services, what the app may do.
    await page.waitForURL((url) => url.href.startsWith(`${demo.brokerUrl}/connect/start`));
    await page.getByRole("heading", { name: "Connect an account" }).waitFor();
    assert.match(await page.locator("main").innerText(), /Files Viewer \(sample app\)/);
    const services = page.locator(".choice-name");
    assert.deepEqual(await services.allInnerTexts(), ["Acme Cloud", "Acme Cloud (API key)", "Acme Cloud (self-hosted)"]);
    assert.match(
      await page.getByRole("heading", { name: "Files Viewer (sample app) will be able to" }).locator("xpath=..").innerText(),
      /Use the service's API on your behalf/,
    );
    await chromium.screenshot(page, "connect-02-picker");

    // The search box filters without JavaScript: a GET form in the same connect attempt.
    await page.getByLabel("Search services").fill("self");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("status").filter({ hasText: "1 of 3 services match" }).waitFor();
    assert.deepEqual(await services.allInnerTexts(), ["Acme Cloud (self-hosted)"]);
    await chromium.screenshot(page, "connect-02b-picker-search");
    await page.getByRole("link", { name: "Show all services" }).click();
    await page.getByRole("heading", { name: "Connect an account" }).waitFor();
    assert.equal(await services.count(), 3);
    await chooseService(page, "Acme Cloud");

    // Acme Cloud's own login page: a wrong password is refused there.
    await page.waitForURL((url) => url.href.startsWith(demo.acmeCloudUrl));
    await page.getByRole("heading", { name: "Sign in to Acme Cloud" }).waitFor();
    await signIn(page, "alice", "not-her-password");
    await page.getByRole("alert").filter({ hasText: "Wrong password" }).waitFor();
    await chromium.screenshot(page, "connect-03-upstream-login-error");
    await signIn(page, "alice", "wonderland");

    await page.getByRole("heading", { name: /Authorize/ }).waitFor();
    await chromium.screenshot(page, "connect-04-upstream-consent");
    await page.getByRole("button", { name: "Allow" }).click();

    // Back at the sample app, which shows the files the proxy fetched.
    await page.waitForURL((url) => url.href.startsWith(demo.appUrl));
    const files = page.getByTestId("files");
    await files.waitFor();
    assert.match(await files.innerText(), /Quarterly report\.pdf/);
    assert.match(await files.innerText(), /\b3 files of alice@acme\.test/);
    const accountId = (await page.getByTestId("account-id").innerText()).trim();
    await chromium.screenshot(page, "connect-05-files-through-proxy");

    const account = await demo.broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } });
    assert.equal(account.connectorId, "acme-cloud");
    assert.equal(account.upstreamSubject, "acme-user-1001");
    assert.equal(account.status, "active");
    assert.equal(account.appId, demo.appClientId);
    assert.ok(demo.acmeCloud.upstream.stats.api >= 1, "the files came from Acme Cloud's API");

    await page.getByRole("button", { name: "Disconnect" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: `Disconnected account ${accountId}` })
      .waitFor();
    await chromium.screenshot(page, "connect-06-disconnected");
    assert.equal(await demo.broker.services.db.account.findUnique({ where: { id: accountId } }), null, "Disconnect deleted the account at the broker");
    assert.equal(await page.getByRole("button", { name: "Connect Acme Cloud" }).count(), 1);
    await page.close();
  });

  it('"Connect Acme Cloud" skips the picker, and Deny at Acme Cloud comes back to the app as access_denied', async () => {
    const page = await chromium.newPage();
    await page.goto(demo.appUrl);
    await page.getByRole("button", { name: "Connect Acme Cloud" }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.acmeCloudUrl));
    // The browser may still be signed in at Acme Cloud from the first test; sign in if asked.
    const consent = page.getByRole("heading", { name: /Authorize/ });
    if (await page.getByRole("heading", { name: "Sign in to Acme Cloud" }).isVisible()) await signIn(page, "bob", "builder");
    await consent.waitFor();
    await page.getByRole("button", { name: "Deny" }).click();

    await page.waitForURL((url) => url.href.startsWith(demo.appUrl));
    const alert = page.getByRole("alert");
    await alert.waitFor();
    assert.match(await alert.innerText(), /access_denied/);
    await chromium.screenshot(page, "connect-07-denied");
    assert.equal(await page.getByTestId("files").count(), 0);
    await page.close();
  });
});
