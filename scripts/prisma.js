#!/usr/bin/env node
// Runs the Prisma CLI without its engine download: the CLI checks that engine
// files exist before it runs, but on the Rust-free client + driver adapter path
// it never executes them, so stand-ins are enough (see docs/operations.md "Prisma without network access").
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { tmpdir } from "node:os";

const require = createRequire(import.meta.url);
const standInDir = join(tmpdir(), "authbroker-prisma");
const standInLibrary = join(standInDir, "libquery-engine-stand-in.so.node");
if (!existsSync(standInLibrary)) {
  mkdirSync(standInDir, { recursive: true });
  writeFileSync(standInLibrary, "");
}
const env = {
  ...process.env,
  DATABASE_URL: process.env.DATABASE_URL ?? "postgresql://postgres:postgres@127.0.0.1:5432/authbroker",
  PRISMA_QUERY_ENGINE_LIBRARY: process.env.PRISMA_QUERY_ENGINE_LIBRARY ?? standInLibrary,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? "/bin/false",
  PRISMA_HIDE_UPDATE_MESSAGE: "1",
  CHECKPOINT_DISABLE: "1",
};
const cli = require.resolve("prisma/build/index.js");
const result = spawnSync(process.execPath, [cli, ...process.argv.slice(2)], { stdio: "inherit", env });
process.exit(result.status ?? 1);
