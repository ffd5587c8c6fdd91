/** `authbroker init`: write a development `.env` with a fresh encryption key and admin token. */
import { existsSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import type { Command } from "commander";
import { generateKeyEntry } from "../../crypto/keyring.js";
import { CliError, EXIT, printResult } from "../output.js";

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("write a development .env with a new BROKER_ENCRYPTION_KEYS entry and BROKER_ADMIN_TOKEN")
    .option("--if-missing", "do nothing when .env exists or BROKER_ENCRYPTION_KEYS is already set")
    .option("--force", "overwrite an existing .env (its keys are lost: sealed data becomes unreadable)")
    .option("--file <path>", "where to write", ".env")
    .option("--json", "print the result as JSON")
    .action(async (options: { ifMissing?: boolean; force?: boolean; file: string; json?: boolean }) => {
      const exists = existsSync(options.file);
      if (options.ifMissing && (exists || process.env.BROKER_ENCRYPTION_KEYS)) {
        printResult(options, { written: false, file: options.file }, () => `${options.file} present, nothing to do`);
        return;
      }
      if (exists && !options.force) throw new CliError(`${options.file} exists; pass --force to overwrite it (its encryption keys would be lost)`, EXIT.usage);
      const kid = `k${new Date().toISOString().slice(0, 10).replaceAll("-", "")}`;
      const content = [
        "# Written by `authbroker init` for development. Keep it secret; never commit it.",
        "# Keyring for data at rest: kid:base64(32 bytes), first is current.",
        `BROKER_ENCRYPTION_KEYS=${await generateKeyEntry(kid)}`,
        "# Bearer token for the admin API (/admin/v1, /admin/queues, /metrics).",
        `BROKER_ADMIN_TOKEN=${randomBytes(32).toString("base64url")}`,
        "",
      ].join("\n");
      writeFileSync(options.file, content, { mode: 0o600 });
      printResult(options, { written: true, file: options.file, kid }, () => `wrote ${options.file} (encryption key "${kid}", admin token)`);
    });
}
