/**
 * The broker's own connect forms in Chromium, with the demo's services: the
 * hostname page of a per-server connector (Acme Cloud self-hosted) and the
 * API-key page (Acme Cloud with a key), each with its error state, then the
 * files fetched through the proxy with what was connected.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { launchChromium, type TestChromium } from "../support/chromium.js";
import { chooseService, signInAtAcmeCloud, startTestDemo, type TestDemo } from "../support/demo.js";

describe("the demo in Chromium: the broker's hostname and API-key forms", () => {
  let demo: TestDemo;
  let chromium: TestChromium;

  before(async () => {
    [demo, chromium] = await Promise.all([startTestDemo(), launchChromium()]);
  });

  after(async () => {
    await chromium?.close();
    await demo?.teardown();
  });

  async function openPicker(page: Page): Promise<void> {
    await page.goto(demo.appUrl);
    await page.getByRole("button", { name: "Choose a service…" }).click();
    await page.getByRole("heading", { name: "Connect an account" }).waitFor();
  }

  /** The files table of the sample app, once the connect is back there. */
  async function filesShown(page: Page): Promise<string> {
    await page.waitForURL((url) => url.href.startsWith(demo.appUrl));
    const files = page.getByTestId("files");
    await files.waitFor();
    return files.innerText();
  }

  it("per-server: a hostname outside the connector's pattern is refused on the form, the right one leads to that server's sign-in", async () => {
    await chromium.context.clearCookies();
    const page = await chromium.newPage();
    await openPicker(page);
    await chooseService(page, "Acme Cloud (self-hosted)");

    await page.getByRole("heading", { name: "Connect Acme Cloud (self-hosted)" }).waitFor();
    const address = page.getByLabel("Server address");
    assert.match(await page.locator("main").innerText(), new RegExp(`For example ${new URL(demo.acmeCloudUrl).host.replaceAll(".", "\\.")}`));
    await chromium.screenshot(page, "forms-01-hostname");
    await address.fill("files.example.com");
    await page.getByRole("button", { name: "Continue" }).click();
    const problem = page.getByRole("alert");
    await problem.waitFor();
    assert.match(await problem.innerText(), /files\.example\.com is not an Acme Cloud \(self-hosted\) server/);
    assert.equal(await address.getAttribute("aria-invalid"), "true");
    assert.equal(await address.inputValue(), "files.example.com", "the value is shown again to be corrected");
    await chromium.screenshot(page, "forms-02-hostname-error");

    await address.fill(new URL(demo.acmeCloudUrl).host);
    await page.getByRole("button", { name: "Continue" }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.acmeCloudUrl));
    await signInAtAcmeCloud(page, "bob", "builder");
    await page.getByRole("button", { name: "Allow" }).click();

    const files = await filesShown(page);
    assert.match(files, /Site plan\.dwg/);
    assert.match(files, /\b1 file of bob@acme\.test/, "one file, not “1 file(s)”");
    await chromium.screenshot(page, "forms-03-hostname-connected");
    const accountId = (await page.getByTestId("account-id").innerText()).trim();
    const account = await demo.broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } });
    assert.equal(account.connectorId, "acme-cloud-server");
    assert.equal(account.hostname, new URL(demo.acmeCloudUrl).host);
    assert.equal(account.upstreamSubject, "acme-user-1002");
    await page.close();
  });

  it("API key: a key the service refuses is shown as a problem on the form, a good one connects and the proxy sends it", async () => {
    await chromium.context.clearCookies();
    const page = await chromium.newPage();
    await openPicker(page);
    await chooseService(page, "Acme Cloud (API key)");

    await page.getByRole("heading", { name: "Connect Acme Cloud (API key)" }).waitFor();
    const key = page.getByLabel("API key");
    assert.equal(await key.getAttribute("type"), "password");
    await chromium.screenshot(page, "forms-04-api-key");

    // Not the shape of a key: refused by the form's own check, before Acme Cloud is asked.
    const apiCallsBefore = demo.acmeCloud.upstream.stats.api;
    await key.fill("not a key");
    await page.getByRole("button", { name: "Connect" }).click();
    const malformed = page.getByRole("alert");
    await malformed.waitFor();
    assert.match(await malformed.innerText(), /API key does not have the expected format/);
    assert.equal(demo.acmeCloud.upstream.stats.api, apiCallsBefore, "a malformed key never reaches the service");
    await chromium.screenshot(page, "forms-05-api-key-malformed");

    // The right shape, but Acme Cloud refuses it.
    await key.fill("acme_live_revoked_000000");
    await page.getByRole("button", { name: "Connect" }).click();
    const problem = page.getByRole("alert");
    await problem.filter({ hasText: "did not accept" }).waitFor();
    assert.equal(await key.inputValue(), "", "a secret is never echoed back");
    assert.equal(await key.getAttribute("aria-invalid"), "true");
    await chromium.screenshot(page, "forms-06-api-key-refused");

    const alice = demo.users[0]!;
    await key.fill(alice.apiKey);
    await page.getByRole("button", { name: "Connect" }).click();
    const files = await filesShown(page);
    assert.match(files, /Quarterly report\.pdf/);
    await chromium.screenshot(page, "forms-07-api-key-connected");
    const accountId = (await page.getByTestId("account-id").innerText()).trim();
    const account = await demo.broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } });
    assert.equal(account.connectorId, "acme-cloud-keys");
    assert.equal(account.upstreamSubject, alice.sub);
    const stored = JSON.stringify(account);
    assert.ok(!stored.includes(alice.apiKey), "the key is stored sealed, never in clear");

    await page.getByRole("button", { name: "Disconnect" }).click();
    await page
      .getByRole("status")
      .filter({ hasText: `Disconnected account ${accountId}` })
      .waitFor();

    // Cancel on a form comes back to the app as access_denied.
    await openPicker(page);
    await chooseService(page, "Acme Cloud (API key)");
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.waitForURL((url) => url.href.startsWith(demo.appUrl));
    assert.match(await page.getByRole("alert").innerText(), /access_denied/);
    await page.close();
  });
});
