#!/usr/bin/env node
// `npm run db:migration [-- <git ref>]`: prints the SQL that takes the data
// model of prisma/schema.prisma at <ref> (HEAD when none is given) to the one
// in the working tree: what a new prisma/migrations/<timestamp>_<name>/
// migration.sql holds. Prisma's own `--from-migrations` needs a shadow
// database, which its schema engine cannot use through the driver adapter
// (docs/operations.md, "Prisma without network access"); two data models need
// no database. The adapter still connects, so it is pointed at the server's
// `postgres` database, which always exists.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SCHEMA = "prisma/schema.prisma";
const ref = process.argv[2] ?? "HEAD";

let before;
try {
  before = execFileSync("git", ["show", `${ref}:${SCHEMA}`], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
} catch {
  console.error(`db:migration: cannot read ${SCHEMA} at "${ref}" (a git checkout and a commit or branch name are needed)`);
  process.exit(2);
}

const server = new URL(process.env.DATABASE_URL ?? "postgresql://postgres:postgres@127.0.0.1:5432/authbroker");
server.pathname = "/postgres";
const dir = mkdtempSync(join(tmpdir(), "authbroker-migration-"));
try {
  const beforeFile = join(dir, "schema.prisma");
  writeFileSync(beforeFile, before);
  const diff = spawnSync(
    process.execPath,
    ["scripts/prisma.js", "migrate", "diff", "--from-schema-datamodel", beforeFile, "--to-schema-datamodel", SCHEMA, "--script"],
    { stdio: "inherit", env: { ...process.env, DATABASE_URL: server.href } },
  );
  process.exitCode = diff.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
