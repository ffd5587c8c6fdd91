#!/usr/bin/env node
// The `authbroker` command. Loads .env from the working directory (variables
// already set in the environment win), then runs the CLI.
//
// One rule decides what runs: the compiled JavaScript in dist/ when it is at
// least as new as every file in src/ (dist/.built, written by `npm run build`,
// which `npm install`, `npm start`, `npm run demo` and `npm test` run first);
// otherwise the TypeScript in src/ through tsx, as it is now (slower to start,
// never stale). An image without src/ (the Dockerfile's) runs dist/.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Whether dist/ was built after the last change to any file in src/. */
function distIsCurrent() {
  let builtAt;
  try {
    builtAt = statSync(join(root, "dist", ".built")).mtimeMs;
  } catch {
    return false;
  }
  const src = join(root, "src");
  if (!existsSync(src)) return true;
  // Directories too: a file deleted from src/ changes its directory.
  for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (statSync(join(entry.parentPath, entry.name)).mtimeMs > builtAt) return false;
  }
  return statSync(src).mtimeMs <= builtAt;
}

if (existsSync(".env")) process.loadEnvFile(".env");
let cli;
if (distIsCurrent()) {
  cli = await import("../dist/cli/index.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  cli = await import("../src/cli/index.js");
}
process.exitCode = await cli.main(process.argv);
