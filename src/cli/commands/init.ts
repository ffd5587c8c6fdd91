/** `authbroker init`: write a development `.env` with a fresh encryption key and admin token. */
import { appendFileSync, chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { parseEnv } from "node:util";
import type { Command } from "commander";
import { generateKeyEntry } from "../../crypto/keyring.js";
import { CliError, EXIT, printResult } from "../output.js";

/** The variables `init` writes, with the comment that explains each. */
async function generatedSettings(kid: string, withAdminToken = true): Promise<string> {
  const lines = ["# Keyring for data at rest: kid:base64(32 bytes), first is current.", `BROKER_ENCRYPTION_KEYS=${await generateKeyEntry(kid)}`];
  if (withAdminToken)
    lines.push("# Bearer token for the admin API (/admin/v1, /admin/queues, /metrics).", `BROKER_ADMIN_TOKEN=${randomBytes(32).toString("base64url")}`);
  return `${lines.join("\n")}\n`;
}

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("write a development .env with a new BROKER_ENCRYPTION_KEYS entry and BROKER_ADMIN_TOKEN")
    .option("--if-missing", "do nothing when BROKER_ENCRYPTION_KEYS is set already (in the environment or the file); add it to an existing file that lacks it")
    .option("--force", "overwrite an existing .env (its keys are lost: sealed data becomes unreadable)")
    .option("--file <path>", "where to write", ".env")
    .option("--json", "print the result as JSON")
    .action(async (options: { ifMissing?: boolean; force?: boolean; file: string; json?: boolean }) => {
      const exists = existsSync(options.file);
      // Dated, and random: a key made by another `init` the same day must not carry the same name,
      // or data sealed under it would fail authentication instead of naming the missing key.
      const kid = `k${new Date().toISOString().slice(0, 10).replaceAll("-", "")}_${randomBytes(3).toString("hex")}`;
      if (options.ifMissing) {
        const current = exists ? parseEnv(readFileSync(options.file, "utf8")) : {};
        const inFile = current.BROKER_ENCRYPTION_KEYS;
        // bin/authbroker.js has loaded ./.env into the environment already; a variable set there wins over the file.
        if (inFile || process.env.BROKER_ENCRYPTION_KEYS) {
          const where = inFile ? options.file : "the environment";
          printResult(options, { written: false, file: options.file }, () => `BROKER_ENCRYPTION_KEYS is set in ${where}, nothing to do`);
          return;
        }
        if (exists) {
          // A hand-written .env (PORT, DATABASE_URL…) keeps its settings; the key is added.
          appendFileSync(options.file, `\n# Added by \`authbroker init --if-missing\`.\n${await generatedSettings(kid, !current.BROKER_ADMIN_TOKEN)}`);
          chmodSync(options.file, 0o600);
          printResult(options, { written: true, file: options.file, kid }, () => `added encryption key "${kid}" to ${options.file}`);
          return;
        }
      }
      if (exists && !options.force) throw new CliError(`${options.file} exists; pass --force to overwrite it (its encryption keys would be lost)`, EXIT.usage);
      writeFileSync(options.file, `# Written by \`authbroker init\` for development. Keep it secret; never commit it.\n${await generatedSettings(kid)}`, {
        mode: 0o600,
      });
      // The mode of writeFileSync applies to new files only; an overwritten one keeps its own.
      chmodSync(options.file, 0o600);
      printResult(options, { written: true, file: options.file, kid }, () => `wrote ${options.file} (encryption key "${kid}", admin token)`);
    });
}
