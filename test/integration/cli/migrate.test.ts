/**
 * Migrations: the committed ones apply to an empty database, and
 * `authbroker migrate` creates the database when the server has none of
 * that name, from any working directory.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { applyMigrations } from "../../../src/cli/migrations.js";
import { createEmptyDatabase, PG_SERVER_URL, type TestDatabase } from "../../support/db.js";

const BIN = fileURLToPath(new URL("../../../bin/authbroker.js", import.meta.url));
const MODELS = [
  "App",
  "ConnectorCredential",
  "Account",
  "Credential",
  "AuthorizationCode",
  "RefreshFamily",
  "RefreshToken",
  "DeviceCode",
  "SigningKey",
  "AuditEvent",
];

function runCli(args: string[], env: Record<string, string>) {
  const cwd = mkdtempSync(join(tmpdir(), "authbroker-cli-"));
  try {
    const result = spawnSync(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8", timeout: 120_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function tablesOf(url: string): Promise<string[]> {
  const rows = await query<{ table_name: string }>(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name");
  return rows.map((r) => r.table_name);
}

describe("migrations", () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const drop of cleanup) await drop();
  });

  it("apply to an empty database and create every table of the data model", async () => {
    const database: TestDatabase = await createEmptyDatabase();
    cleanup.push(database.drop);
    assert.deepEqual(await tablesOf(database.url), []);

    await applyMigrations(database.url);

    const tables = await tablesOf(database.url);
    for (const model of MODELS) assert.ok(tables.includes(model), `table ${model} exists (have ${tables.join(", ")})`);
    const applied = await query<{ migration_name: string; finished_at: Date | null }>(
      database.url,
      `SELECT migration_name, finished_at FROM "_prisma_migrations" ORDER BY migration_name`,
    );
    const committed = readdirSync("prisma/migrations")
      .filter((e) => !e.endsWith(".toml"))
      .sort();
    assert.deepEqual(
      applied.map((m) => m.migration_name),
      committed,
    );
    assert.ok(applied.every((m) => m.finished_at !== null));

    // Applying again is a no-op (what every `npm start` does).
    await applyMigrations(database.url);
    assert.equal((await query(database.url, `SELECT 1 FROM "_prisma_migrations"`)).length, committed.length);
  });

  it("`authbroker migrate` creates a missing database, migrates it, and is a no-op the second time", async () => {
    const name = `authbroker_mig_${randomBytes(5).toString("hex")}`;
    const url = `${PG_SERVER_URL}/${name}`;
    cleanup.push(() => query(`${PG_SERVER_URL}/postgres`, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));

    const first = runCli(["migrate", "--json"], { DATABASE_URL: url });
    assert.equal(first.status, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout), { database: `postgresql://127.0.0.1:5432/${name}`, created: true, migrated: true });
    assert.ok((await tablesOf(url)).includes("App"));

    const second = runCli(["migrate"], { DATABASE_URL: url });
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.stdout.trim(), `migrated postgresql://127.0.0.1:5432/${name}`);
  });

  it("a failed migration rejects with one line naming the database and Prisma's error", async () => {
    const name = `authbroker_absent_${randomBytes(5).toString("hex")}`;
    await assert.rejects(applyMigrations(`${PG_SERVER_URL}/${name}`), (err: Error) => {
      assert.equal(err.message, `migrations failed on postgresql://127.0.0.1:5432/${name}: Error: Database \`${name}\` does not exist`);
      return true;
    });
  });

  it("`authbroker migrate` against a server that is down prints one line and fails", () => {
    const result = runCli(["migrate"], { DATABASE_URL: "postgresql://postgres@127.0.0.1:1/authbroker" });
    assert.equal(result.status, 1);
    const lines = result.stderr.trim().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^authbroker: PostgreSQL unreachable at postgresql:\/\/127\.0\.0\.1:1\/postgres \(ECONNREFUSED\)/);
  });
});
