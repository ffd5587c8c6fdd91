#!/usr/bin/env node
// `npm run build [outdir]`: compiles src/ (with the generated Prisma client) to dist/, one
// JavaScript file per TypeScript file, so the `authbroker` command starts without
// compiling anything. esbuild only strips the types: `npm run typecheck` checks them.
// Runs at `npm install` (prepare), `npm start`, `npm run demo` and `npm test`; it takes well under a
// second. The last step writes dist/.built, which bin/authbroker.js compares with src/.
import { build } from "esbuild";
import { existsSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const src = join(root, "src");
const dist = join(root, process.argv[2] ?? "dist");

const entryPoints = readdirSync(src, { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts"))
  .map((entry) => relative(root, join(entry.parentPath, entry.name)));

// Built beside dist/ and swapped in whole: a file removed from src/ does not live on
// in dist/, and a CLI running meanwhile never finds a half-written dist/.
const next = `${dist}.next-${process.pid}`;
const previous = `${dist}.previous-${process.pid}`;
rmSync(next, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints,
  outbase: "src",
  outdir: next,
  format: "esm",
  platform: "node",
  target: "node20",
  tsconfig: "tsconfig.json",
  logLevel: "warning",
});
writeFileSync(join(next, ".built"), `${new Date().toISOString()}\n`);
if (existsSync(dist)) renameSync(dist, previous);
renameSync(next, dist);
rmSync(previous, { recursive: true, force: true });
