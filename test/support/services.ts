/**
 * Real services for a test: its own Postgres database, the local Redis (with
 * a key prefix of its own where a module supports one), a fresh keyring, and
 * a logger that writes to memory so tests can assert on log lines.
 */
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { loadConfig, type Config } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { closeServices, createServices } from "../../src/compose.js";
import { type Services } from "../../src/services.js";
import { createTestDatabase, type TestDatabase } from "./db.js";

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** A random BROKER_ENCRYPTION_KEYS entry. */
export function randomKeyEntry(kid = `t${randomBytes(3).toString("hex")}`): string {
  return `${kid}:${randomBytes(32).toString("base64")}`;
}

/** Captured log output: one parsed JSON object per line, and the raw text. */
export class LogCapture extends Writable {
  text = "";
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString("utf8");
    done();
  }
  get lines(): Record<string, unknown>[] {
    return this.text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

export interface TestServices extends Services {
  database: TestDatabase;
  logs: LogCapture;
  /** Closes the connections and drops the database. */
  teardown(): Promise<void>;
}

export function testConfig(env: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    BROKER_ENCRYPTION_KEYS: randomKeyEntry(),
    REDIS_URL: TEST_REDIS_URL,
    // Queues of their own: workers of other test files must not take this file's jobs.
    BROKER_QUEUE_PREFIX: `test_${randomBytes(4).toString("hex")}`,
    PORT: "0",
    LOG_LEVEL: "info",
    BROKER_ALLOW_PRIVATE_HOSTS: "127.0.0.0/8,::1/128",
    ...env,
  });
}

export async function createTestServices(env: Record<string, string | undefined> = {}): Promise<TestServices> {
  const database = await createTestDatabase();
  const config = testConfig({ DATABASE_URL: database.url, ...env });
  const logs = new LogCapture();
  const services = await createServices(config, createLogger(config.logLevel, logs), { ...process.env, ...env });
  return {
    ...services,
    database,
    logs,
    teardown: async () => {
      await closeServices(services);
      await database.drop();
    },
  };
}
