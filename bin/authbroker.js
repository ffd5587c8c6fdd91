#!/usr/bin/env node
// The `authbroker` command. Loads .env from the working directory (variables
// already set in the environment win), then runs the TypeScript CLI through
// tsx, so there is no build step between a clone and a running broker.
import { existsSync } from "node:fs";
import { register } from "tsx/esm/api";

if (existsSync(".env")) process.loadEnvFile(".env");
register();
const { main } = await import("../src/cli/index.js");
process.exitCode = await main(process.argv);
