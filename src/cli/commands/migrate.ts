/** `authbroker migrate`: create the database if needed, then apply the committed migrations. */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import pg from "pg";
import type { Command } from "commander";
import { loadConfig } from "../../config.js";
import { describeDatabaseUrl } from "../../db.js";
import { checkPostgres } from "../../preflight.js";
import { CliError, printResult } from "../output.js";

const PRISMA_WRAPPER = fileURLToPath(new URL("../../../scripts/prisma.js", import.meta.url));

/** Creates the database named in the URL when the server has none of that name. */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = "/postgres";
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount) return false;
    await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
    return true;
  } catch (err) {
    // Another process created it meanwhile.
    if ((err as { code?: string }).code === "42P04") return false;
    throw err;
  } finally {
    await client.end();
  }
}

export async function applyMigrations(databaseUrl: string): Promise<void> {
  const result = spawnSync(process.execPath, [PRISMA_WRAPPER, "migrate", "deploy"], { env: { ...process.env, DATABASE_URL: databaseUrl }, encoding: "utf8" });
  if (result.status !== 0) {
    const reason = `${result.stderr}\n${result.stdout}`.split("\n").map((l) => l.trim()).find((l) => /error/i.test(l)) ?? "see `node scripts/prisma.js migrate deploy`";
    throw new CliError(`migrations failed on ${describeDatabaseUrl(databaseUrl)}: ${reason}`);
  }
}

export function registerMigrate(program: Command): void {
  program
    .command("migrate")
    .description("create the database if it does not exist and apply every migration in prisma/migrations")
    .option("--json", "print the result as JSON")
    .action(async (options: { json?: boolean }) => {
      const { databaseUrl } = loadConfig({ ...process.env, BROKER_ENCRYPTION_KEYS: process.env.BROKER_ENCRYPTION_KEYS || "unused:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" });
      try {
        await checkPostgres(databaseUrl.replace(/\/[^/?]*(\?|$)/, "/postgres$1"));
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      const created = await ensureDatabase(databaseUrl);
      await applyMigrations(databaseUrl);
      printResult(options, { database: describeDatabaseUrl(databaseUrl), created, migrated: true }, () => `${created ? "created and " : ""}migrated ${describeDatabaseUrl(databaseUrl)}`);
    });
}
