/**
 * The queue dashboard (/admin/queues) in a real browser: Chromium asks its
 * user for a password only when a 401 offers Basic alone, so the dashboard
 * answers that, and with the admin token as the password (any user name)
 * the dashboard loads. The JSON admin API keeps its Bearer challenge.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { launchChromium, type TestChromium } from "../support/chromium.js";
import { startTestBroker, type TestBroker } from "../support/broker.js";

const ADMIN_TOKEN = "admin-token-for-tests-0123456789abcdef";

describe("the queue dashboard in Chromium", () => {
  let broker: TestBroker;
  const browsers: TestChromium[] = [];

  before(async () => {
    broker = await startTestBroker({ env: { BROKER_ADMIN_TOKEN: ADMIN_TOKEN } });
  });

  after(async () => {
    for (const browser of browsers) await browser.close();
    await broker?.stop();
  });

  async function chromiumWith(httpCredentials?: { username: string; password: string }): Promise<TestChromium> {
    const browser = await launchChromium({ httpCredentials });
    browsers.push(browser);
    return browser;
  }

  it("without credentials, the page gets a 401 whose only challenge is Basic, and Chromium asks for a password", async () => {
    const chromium = await chromiumWith();
    const page = await chromium.newPage();
    const challenged = page.waitForResponse((r) => r.url().endsWith("/admin/queues"));
    const navigation = await page.goto(`${broker.url}/admin/queues`).then(
      (response) => `loaded with ${response?.status()}`,
      (err: Error) => err.message,
    );
    const response = await challenged;
    assert.equal(response.status(), 401);
    assert.equal(await response.headerValue("www-authenticate"), 'Basic realm="authbroker-admin", charset="UTF-8"');
    // Headless, the password prompt has no one to answer it: Chromium gives up on the credentials instead of showing the 401 body.
    assert.match(navigation, /ERR_INVALID_AUTH_CREDENTIALS/);
  });

  it("with the admin token as the password of the browser's prompt, the dashboard loads with the broker's queues", async () => {
    const chromium = await chromiumWith({ username: "operator", password: ADMIN_TOKEN });
    const page = await chromium.newPage();
    const response = await page.goto(`${broker.url}/admin/queues`);
    assert.equal(response?.status(), 200);
    // The dashboard's own script fetches its API (also behind Basic) and lists the queues.
    await page.getByText("refresh", { exact: true }).first().waitFor();
    await page.getByText("webhooks", { exact: true }).first().waitFor();
    await chromium.screenshot(page, "admin-queues-dashboard");
  });
});
