/**
 * The `authbroker` command for operators. Every verb takes `--json`; a
 * failure prints one line on stderr and exits with a code from EXIT.
 *
 * Registering the verbs loads nothing heavy: each verb imports what it works
 * with (the services, the database client, the server) when it runs, so
 * `--help` and a usage error answer at once (docs/benchmarks.md "CLI").
 */
import { Command, CommanderError } from "commander";
import { registerAccounts } from "./commands/accounts.js";
import { registerApps } from "./commands/apps.js";
import { registerConnectors } from "./commands/connectors.js";
import { registerDev } from "./commands/dev.js";
import { registerInit } from "./commands/init.js";
import { registerKeys } from "./commands/keys.js";
import { registerMigrate } from "./commands/migrate.js";
import { registerRegistrationTokens } from "./commands/registration-tokens.js";
import { registerResources } from "./commands/resources.js";
import { registerRun } from "./commands/run.js";
import { registerWebhooks } from "./commands/webhooks.js";
import { EXIT } from "./output.js";

export function buildProgram(): Command {
  const program = new Command("authbroker")
    .description("authbroker: one OAuth 2.0 / OpenID Connect flow for apps, many upstream services behind it")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  registerInit(program);
  registerMigrate(program);
  registerRun(program);
  registerDev(program);
  registerKeys(program);
  registerConnectors(program);
  registerApps(program);
  registerRegistrationTokens(program);
  registerResources(program);
  registerAccounts(program);
  registerWebhooks(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not failures; commander already printed the usage error.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const { describeFailure } = await import("./failure.js");
    const { line, exitCode } = describeFailure(err);
    process.stderr.write(`authbroker: ${line}\n`);
    return exitCode;
  }
}
