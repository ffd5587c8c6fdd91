/**
 * A real PostgreSQL database of its own for each test file: cloned from a
 * template database that is migrated once per set of migrations (its name
 * carries a hash of prisma/migrations), so a test starts from the real schema
 * in milliseconds and never sees another file's rows.
 */
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { applyMigrations } from "../../src/cli/migrations.js";

export const PG_SERVER_URL = process.env.TEST_PG_URL ?? "postgresql://postgres:postgres@127.0.0.1:5432";

function migrationsHash(): string {
  const dir = "prisma/migrations";
  const hash = createHash("sha256");
  for (const entry of readdirSync(dir).sort()) {
    if (entry.endsWith(".toml")) continue;
    hash.update(entry);
    hash.update(readFileSync(join(dir, entry, "migration.sql")));
  }
  return hash.digest("hex").slice(0, 10);
}

async function withAdminClient<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: `${PG_SERVER_URL}/postgres` });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

async function ensureTemplate(): Promise<string> {
  const template = `authbroker_tpl_${migrationsHash()}`;
  await withAdminClient(async (client) => {
    // One migrator at a time when test files start in parallel.
    await client.query("SELECT pg_advisory_lock(727274002)");
    try {
      const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [template]);
      if (rowCount) return;
      const building = `${template}_building`;
      await client.query(`DROP DATABASE IF EXISTS "${building}"`);
      await client.query(`CREATE DATABASE "${building}"`);
      await applyMigrations(`${PG_SERVER_URL}/${building}`);
      await client.query(`ALTER DATABASE "${building}" RENAME TO "${template}"`);
    } finally {
      await client.query("SELECT pg_advisory_unlock(727274002)");
    }
  });
  return template;
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A new, migrated, empty database. Call `drop()` when the test file ends. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const template = await ensureTemplate();
  const name = `authbroker_test_${randomBytes(5).toString("hex")}`;
  await withAdminClient((client) => client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
  return {
    url: `${PG_SERVER_URL}/${name}`,
    name,
    drop: () => withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}

/** An empty database without the schema, for the migration test. */
export async function createEmptyDatabase(): Promise<TestDatabase> {
  const name = `authbroker_empty_${randomBytes(5).toString("hex")}`;
  await withAdminClient((client) => client.query(`CREATE DATABASE "${name}"`));
  return {
    url: `${PG_SERVER_URL}/${name}`,
    name,
    drop: () => withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}

/** Sets the time zone of every new session of a test database (call before its pool opens any). */
export async function setSessionTimeZone(databaseUrl: string, timeZone: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`ALTER DATABASE "${new URL(databaseUrl).pathname.slice(1)}" SET timezone = '${timeZone}'`);
  } finally {
    await client.end();
  }
}
