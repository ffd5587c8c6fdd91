/**
 * Migrations: the committed ones apply to an empty database and build the
 * schema prisma/schema.prisma describes (the migrations are written by hand:
 * nothing else would notice a model changed without its migration), and
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
const PRISMA = fileURLToPath(new URL("../../../scripts/prisma.js", import.meta.url));
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

/**
 * What a schema is made of, one line each, independent of the order columns
 * were added in: columns with type, nullability and default; indexes;
 * constraints; enum types with their values in order. Prisma's own table of
 * applied migrations is left out.
 */
async function catalogOf(url: string): Promise<string[]> {
  const rows = await query<{ line: string }>(
    url,
    `SELECT 'column ' || table_name || '.' || column_name || ' ' || udt_name || ' nullable=' || is_nullable || ' default=' || coalesce(column_default, '') AS line
       FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'
     UNION ALL
     SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'
     UNION ALL
     SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
       FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> '_prisma_migrations'
     UNION ALL
     SELECT 'enum ' || t.typname || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
       FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname
     ORDER BY 1`,
  );
  return rows.map((r) => r.line);
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

  it("build exactly the schema of prisma/schema.prisma (the SQL Prisma derives from the data model, applied to another empty database)", async () => {
    const migrated = await createEmptyDatabase();
    cleanup.push(migrated.drop);
    await applyMigrations(migrated.url);

    const fromModel = await createEmptyDatabase();
    cleanup.push(fromModel.drop);
    // `migrate diff --from-empty` reads only the schema file; the adapter in prisma.config.ts still wants a database that exists.
    const diff = spawnSync(process.execPath, [PRISMA, "migrate", "diff", "--from-empty", "--to-schema-datamodel", "prisma/schema.prisma", "--script"], {
      env: { ...process.env, DATABASE_URL: fromModel.url },
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(diff.status, 0, diff.stderr);
    assert.match(diff.stdout, /CREATE TABLE "App"/);
    await query(fromModel.url, diff.stdout);

    const expected = await catalogOf(fromModel.url);
    assert.ok(expected.length > 100, `the catalog query sees the schema (${expected.length} lines)`);
    assert.deepEqual(await catalogOf(migrated.url), expected, "a model field without its migration, or a migration the model does not have");
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
