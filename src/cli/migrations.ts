/**
 * Creating the broker's database and applying the committed migrations: what
 * `authbroker migrate` and the development start (`authbroker dev`) run.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { describeDatabaseUrl } from "../db.js";
import { checkPostgres } from "../preflight.js";
import { CliError } from "./output.js";

const PRISMA_WRAPPER = fileURLToPath(new URL("../../scripts/prisma.js", import.meta.url));
/** Prisma finds prisma.config.ts and the schema from its working directory: the repository root, wherever the CLI is run from. */
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

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

/** What `prisma migrate deploy` prints once every migration is applied (or none was pending). */
const DEPLOY_DONE = /All migrations have been successfully applied\.|No pending migrations to apply\./;

/**
 * Runs `prisma migrate deploy` (through scripts/prisma.js, offline). Prisma's
 * WebAssembly schema engine leaves its 10-second advisory-lock timer running
 * after it is done, which would hold every `migrate` (and `npm start`) open
 * for 10 s: once Prisma reports success, its process group is stopped.
 */
export function applyMigrations(databaseUrl: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // Its own process group, so the Prisma CLI that the wrapper starts stops with it.
    const child = spawn(process.execPath, [PRISMA_WRAPPER, "migrate", "deploy"], {
      cwd: REPO_ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    let done = false;
    const collect = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (done || !DEPLOY_DONE.test(output)) return;
      done = true;
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {
        /* already gone */
      }
      resolve();
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.once("error", reject);
    child.once("close", (status) => {
      if (done) return;
      if (status === 0) return resolve();
      const reason =
        output
          .split("\n")
          .map((l) => l.trim())
          .find((l) => /error/i.test(l)) ?? "see `node scripts/prisma.js migrate deploy`";
      reject(new CliError(`migrations failed on ${describeDatabaseUrl(databaseUrl)}: ${reason}`));
    });
  });
}

/** Creates the database when the server has none of its name, then applies every pending migration. */
export async function migrateDatabase(databaseUrl: string): Promise<{ created: boolean }> {
  try {
    await checkPostgres(databaseUrl.replace(/\/[^/?]*(\?|$)/, "/postgres$1"));
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const created = await ensureDatabase(databaseUrl);
  await applyMigrations(databaseUrl);
  return { created };
}
