/**
 * The demo of `npm run demo` (demo/start.ts) for the end-to-end tests: the
 * same code, on free ports, with a database of its own, the local Redis under
 * a queue prefix of its own, a fresh keyring and the broker's log in memory.
 */
import { randomBytes } from "node:crypto";
import type { Page } from "playwright-core";
import { createLogger } from "../../src/log.js";
import { startDemo, type Demo } from "../../demo/start.js";
import { createTestDatabase, type TestDatabase } from "./db.js";
import { LogCapture, randomKeyEntry, TEST_REDIS_URL } from "./services.js";

export interface TestDemo extends Demo {
  database: TestDatabase;
  logs: LogCapture;
  /** What the sample app reported (connected, disconnected…). */
  appEvents: string[];
  teardown(): Promise<void>;
}

export interface TestDemoOptions {
  /** Settings added to the broker's environment. */
  env?: NodeJS.ProcessEnv;
}

export async function startTestDemo(options: TestDemoOptions = {}): Promise<TestDemo> {
  const database = await createTestDatabase();
  const logs = new LogCapture();
  const appEvents: string[] = [];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    BROKER_ENCRYPTION_KEYS: randomKeyEntry(),
    BROKER_QUEUE_PREFIX: `e2e_${randomBytes(4).toString("hex")}`,
    LOG_LEVEL: "info",
    ...options.env,
  };
  try {
    const demo = await startDemo({
      env,
      brokerPort: 0,
      appPort: 0,
      acmeCloudPort: 0,
      mcpPort: 0,
      logger: createLogger("info", logs),
      say: (line) => appEvents.push(line),
    });
    return {
      ...demo,
      database,
      logs,
      appEvents,
      teardown: async () => {
        await demo.stop();
        await database.drop();
      },
    };
  } catch (err) {
    await database.drop();
    throw err;
  }
}

/** Clicks a service on the broker's picker by its exact name ("Acme Cloud" is a prefix of the other demo services). */
export async function chooseService(page: Page, name: string): Promise<void> {
  await page.locator("ul.choices a", { has: page.locator(".choice-name", { hasText: new RegExp(`^${name.replace(/[()]/g, "\\$&")}$`) }) }).click();
}

/** Fills Acme Cloud's login form and submits it. */
export async function signInAtAcmeCloud(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}
