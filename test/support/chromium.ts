/**
 * A real browser for the end-to-end tests: Debian's chromium (`apt-get
 * install chromium`; .ci/run installs it when missing) driven by
 * playwright-core, headless, with a fresh profile per launch. Screenshots go
 * to test-results/ (gitignored), kept as the run's artifacts.
 */
import { mkdirSync, mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type BrowserContextOptions, type Page } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SCREENSHOT_DIR = "test-results/e2e";

/** Flags that keep Chromium off the network (only 127.0.0.1 is reachable here) and quiet in a container. */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export interface TestChromium {
  context: BrowserContext;
  /** A new tab with a fresh cookie jar shared by every tab of this launch. */
  newPage(): Promise<Page>;
  /** Saves a full-page screenshot as test-results/e2e/<name>.png and returns its path. */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** What Chromium answers a Basic challenge with, as a user typing into its password prompt would. */
  httpCredentials?: BrowserContextOptions["httpCredentials"];
}

export async function launchChromium(options: LaunchOptions = {}): Promise<TestChromium> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`${CHROMIUM_PATH} is missing: apt-get update && apt-get install -y chromium (or set CHROMIUM_PATH)`);
  const profile = mkdtempSync(join(tmpdir(), "authbroker-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1024, height: 800 },
    locale: "en-US",
    ...(options.httpCredentials ? { httpCredentials: options.httpCredentials } : {}),
  });
  // A page that hangs fails the step well before the test timeout; generous
  // enough for a 2-core CI machine running other test files at the same time.
  context.setDefaultTimeout(30_000);
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return {
    context,
    newPage: () => context.newPage(),
    async screenshot(page, name) {
      const path = join(SCREENSHOT_DIR, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
