/**
 * `authbroker registration-tokens create|list|revoke`: the initial access
 * tokens that BROKER_DYNAMIC_REGISTRATION=token asks of a client registering
 * itself at POST /oauth/register (RFC 7591 §3), through the same functions
 * as the admin API. A token is shown once; only its hash is kept.
 */
import type { Command } from "commander";
import { CliError, EXIT, printResult, table } from "../output.js";

/** A whole number from the command line, or a usage error naming the option. */
function wholeNumber(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new CliError(`${option} must be a whole number of at least 1`, EXIT.usage);
  return Number(value);
}

export function registerRegistrationTokens(program: Command): void {
  const tokens = program
    .command("registration-tokens")
    .description("initial access tokens for dynamic client registration (BROKER_DYNAMIC_REGISTRATION=token)");

  tokens
    .command("create")
    .description("make a token; it is shown once")
    .option("--expires-in <seconds>", "how long it may be used (default: until revoked)")
    .option("--uses <n>", "how many registrations it may make (default: any number)")
    .option("--json", "print the result as JSON")
    .action(async (options: { expiresIn?: string; uses?: string; json?: boolean }) => {
      const expiresInSeconds = wholeNumber(options.expiresIn, "--expires-in");
      const maxUses = wholeNumber(options.uses, "--uses");
      const { createRegistrationToken } = await import("../../apps/registration-tokens.js");
      const { recordAudit } = await import("../../audit.js");
      const { withServices } = await import("../context.js");
      await withServices(async (services) => {
        const { token, view } = await createRegistrationToken(services.db, { expiresInSeconds, maxUses });
        await recordAudit(services.db, {
          action: "registration_token.created",
          actorType: "operator",
          actorId: "cli",
          detail: { id: view.id, maxUses: view.max_uses, expiresAt: view.expires_at },
        });
        printResult(options, { ...view, token }, () =>
          [
            `created registration token ${view.id}`,
            `token:      ${token}`,
            `uses:       ${view.max_uses ?? "any number"}`,
            `expires at: ${view.expires_at ?? "never (revoke it when done)"}`,
            "The token is shown once: give it to the client's developer, who sends it as Authorization: Bearer at POST /oauth/register.",
          ].join("\n"),
        );
      });
    });

  tokens
    .command("list")
    .description("list tokens (never the tokens themselves)")
    .option("--json", "print the result as JSON")
    .action(async (options: { json?: boolean }) => {
      const { listRegistrationTokens } = await import("../../apps/registration-tokens.js");
      const { withServices } = await import("../context.js");
      await withServices(async (services) => {
        const views = await listRegistrationTokens(services.db);
        printResult(options, views, () => table(views, ["id", "uses", "max_uses", "expires_at", "revoked_at", "created_at"]));
      });
    });

  tokens
    .command("revoke <id>")
    .description("revoke a token: no registration is accepted with it from now on")
    .option("--json", "print the result as JSON")
    .action(async (id: string, options: { json?: boolean }) => {
      const { revokeRegistrationToken } = await import("../../apps/registration-tokens.js");
      const { recordAudit } = await import("../../audit.js");
      const { withServices } = await import("../context.js");
      await withServices(async (services) => {
        const view = await revokeRegistrationToken(services.db, id);
        await recordAudit(services.db, { action: "registration_token.revoked", actorType: "operator", actorId: "cli", detail: { id: view.id } });
        printResult(options, view, () => `registration token ${view.id} revoked`);
      });
    });
}
