/**
 * What an operator sees when the broker cannot start: one line on stderr that
 * names the variable or the dependency and how to fix it, no stack trace, and
 * a non-zero exit code.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createEmptyDatabase, createTestDatabase, type TestDatabase } from "../../support/db.js";
import { freePort } from "../../support/ports.js";
import { Keyring } from "../../../src/crypto/keyring.js";
import { SigningKeys } from "../../../src/crypto/signing-keys.js";
import { loadConfig } from "../../../src/config.js";
import { createDb } from "../../../src/db.js";
import { randomKeyEntry, TEST_REDIS_URL } from "../../support/services.js";

const BIN = fileURLToPath(new URL("../../../bin/authbroker.js", import.meta.url));
const REPO_CONNECTORS = fileURLToPath(new URL("../../../connectors", import.meta.url));

let workDir: string;

/** Runs `authbroker <args>` in an empty directory (no .env) with exactly this environment. */
function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: workDir,
      env: { PATH: process.env.PATH ?? "", CONNECTORS_DIR: REPO_CONNECTORS, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`authbroker ${args.join(" ")} did not stop within 30 s: ${stderr}`));
    }, 30_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Exactly one line on stderr, matching `line`, and no stack trace. */
function assertOneLine(stderr: string, line: RegExp): void {
  const lines = stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.match(lines[0]!, line);
  assert.doesNotMatch(stderr, /\n\s+at /);
}

describe("a broker that cannot start says why in one line", () => {
  let database: TestDatabase;
  let keys: string;

  before(async () => {
    workDir = mkdtempSync(join(tmpdir(), "authbroker-startup-"));
    database = await createEmptyDatabase();
    keys = randomKeyEntry();
  });
  after(async () => {
    await database.drop();
    rmSync(workDir, { recursive: true, force: true });
  });

  it("a bad PORT: exactly one line naming PORT, exit code 2", async () => {
    const { code, stdout, stderr } = await run(["serve"], { BROKER_ENCRYPTION_KEYS: keys, PORT: "eighty" });
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.equal(stderr, "authbroker: configuration error: PORT: must be an integer\n");
  });

  it("each role checks the configuration the same way", async () => {
    for (const role of ["worker", "all"]) {
      const { code, stderr } = await run([role], { BROKER_ENCRYPTION_KEYS: keys, BROKER_ISSUER: "https://auth.example.com/" });
      assert.equal(code, 2, role);
      assertOneLine(stderr, /^authbroker: configuration error: BROKER_ISSUER: must have no trailing slash, query or fragment$/);
    }
  });

  it("no BROKER_ENCRYPTION_KEYS and no .env: one line pointing at `authbroker init`", async () => {
    const { code, stderr } = await run(["serve"], {});
    assert.equal(code, 2);
    assertOneLine(stderr, /^authbroker: configuration error: BROKER_ENCRYPTION_KEYS: is not set: run `npx authbroker init`/);
  });

  it("Postgres not reachable: one line with the URL (no password) and the fix, exit code 1", async () => {
    const port = await freePort();
    const { code, stderr } = await run(["serve"], { BROKER_ENCRYPTION_KEYS: keys, DATABASE_URL: `postgresql://postgres:hunter2@127.0.0.1:${port}/authbroker` });
    assert.equal(code, 1);
    assertOneLine(
      stderr,
      new RegExp(
        `^authbroker: PostgreSQL unreachable at postgresql://127\\.0\\.0\\.1:${port}/authbroker \\(ECONNREFUSED\\): start it, or run \`docker compose up -d postgres redis\`$`,
      ),
    );
    assert.doesNotMatch(stderr, /hunter2/);
  });

  it("a database without the schema: one line saying to run `authbroker migrate`", async () => {
    const { code, stderr } = await run(["serve"], { BROKER_ENCRYPTION_KEYS: keys, DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL });
    assert.equal(code, 1);
    assertOneLine(stderr, /has no authbroker tables: run `npx authbroker migrate`$/);
  });

  it("Redis not reachable: one line with the URL and the fix, exit code 1", async () => {
    const migrated = await createTestDatabase();
    try {
      const port = await freePort();
      const { code, stderr } = await run(["worker"], {
        BROKER_ENCRYPTION_KEYS: keys,
        DATABASE_URL: migrated.url,
        REDIS_URL: `redis://:hunter2@127.0.0.1:${port}`,
      });
      assert.equal(code, 1);
      assertOneLine(stderr, new RegExp(`^authbroker: Redis unreachable at redis://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
      assert.doesNotMatch(stderr, /hunter2/);
    } finally {
      await migrated.drop();
    }
  });

  it("a keyring that cannot open the database's signing key (BROKER_ENCRYPTION_KEYS replaced): one line naming the key", async () => {
    const migrated = await createTestDatabase();
    const db = createDb(migrated.url, { max: 1 });
    try {
      const earlier = await Keyring.create(loadConfig({ BROKER_ENCRYPTION_KEYS: randomKeyEntry("earlier") }).encryptionKeys);
      await new SigningKeys(db, earlier).ensureCurrent();
      const { code, stderr } = await run(["serve"], {
        BROKER_ENCRYPTION_KEYS: randomKeyEntry("other"),
        DATABASE_URL: migrated.url,
        REDIS_URL: TEST_REDIS_URL,
        PORT: "0",
        LOG_LEVEL: "silent",
      });
      assert.equal(code, 1);
      assertOneLine(
        stderr,
        /^authbroker: vault_error: sealed SigningKey\.sealedPrivateJwk of sk_\S+ uses key "earlier", which is not in BROKER_ENCRYPTION_KEYS; restore the BROKER_ENCRYPTION_KEYS this database was set up with, or use a new database \(DATABASE_URL\)$/,
      );
    } finally {
      await db.$disconnect();
      await migrated.drop();
    }
  });

  it("the port is taken: one line naming the address, exit code 1", async () => {
    const migrated = await createTestDatabase();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const { code, stderr } = await run(["serve"], {
        BROKER_ENCRYPTION_KEYS: keys,
        DATABASE_URL: migrated.url,
        REDIS_URL: TEST_REDIS_URL,
        PORT: String(port),
        LOG_LEVEL: "silent",
      });
      assert.equal(code, 1);
      assertOneLine(stderr, new RegExp(`EADDRINUSE.*127\\.0\\.0\\.1:${port}`));
    } finally {
      blocker.close();
      await migrated.drop();
    }
  });
});
