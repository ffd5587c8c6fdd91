/**
 * `authbroker accounts list|refresh|revoke|delete`: the operator's view of
 * accounts, through the same functions as the admin API (never credentials).
 */
import type { Command } from "commander";
import { CliError, EXIT, printResult, table } from "../output.js";

const STATUSES = ["active", "needs_reauth", "revoked", "error"];

export function registerAccounts(program: Command): void {
  const accounts = program.command("accounts").description("connected accounts (never their credentials)");

  accounts
    .command("list")
    .description("list accounts, newest last")
    .option("--app <id>", "only accounts of this app")
    .option("--connector <id>", "only accounts at this connector")
    .option("--status <status>", `only accounts in this status (${STATUSES.join(", ")})`)
    .option("--limit <n>", "at most this many", "200")
    .option("--json", "print the result as JSON")
    .action(async (options: { app?: string; connector?: string; status?: string; limit: string; json?: boolean }) => {
      if (options.status && !STATUSES.includes(options.status)) throw new CliError(`--status must be one of ${STATUSES.join(", ")}`, EXIT.usage);
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new CliError("--limit must be an integer 1-100000", EXIT.usage);
      const { accountView } = await import("../../accounts/lifecycle.js");
      const { withServices } = await import("../context.js");
      await withServices(async (services) => {
        const rows = await services.db.account.findMany({
          where: {
            ...(options.app ? { appId: options.app } : {}),
            ...(options.connector ? { connectorId: options.connector } : {}),
            ...(options.status ? { status: options.status as never } : {}),
          },
          orderBy: { createdAt: "asc" },
          take: limit,
        });
        const views = rows.map(accountView);
        printResult(options, views, () =>
          table(
            views.map((v) => ({ ...v, email: (v.profile.email as string | undefined) ?? null })),
            ["id", "app_id", "connector", "hostname", "status", "email", "credential_expires_at", "credential_expiry_source"],
          ),
        );
      });
    });

  accounts
    .command("refresh [id]")
    .description("refresh an account's upstream credentials now, or every active account with --all")
    .option("--all", "refresh every active account (optionally of --connector), showing progress")
    .option("--connector <id>", "with --all: only accounts at this connector")
    .option("--json", "print the result as JSON")
    .action(async (id: string | undefined, options: { all?: boolean; connector?: string; json?: boolean }) => {
      if (!id === !options.all) throw new CliError("give an account id or --all", EXIT.usage);
      const { refreshAccount } = await import("../../accounts/refresh.js");
      const { recordAudit } = await import("../../audit.js");
      const { withServices } = await import("../context.js");
      await withServices(
        async (services) => {
          const ids = id
            ? [id]
            : (
                await services.db.account.findMany({
                  where: { status: "active", ...(options.connector ? { connectorId: options.connector } : {}) },
                  select: { id: true },
                  orderBy: { id: "asc" },
                })
              ).map((a) => a.id);
          const results: { id: string; outcome: string; error?: string }[] = [];
          const progress = !options.json && process.stderr.isTTY && ids.length > 1;
          for (const [i, accountId] of ids.entries()) {
            try {
              const r = await refreshAccount(services, accountId, { force: true, requestId: "cli" });
              results.push({ id: accountId, outcome: r.outcome });
            } catch (err) {
              if (id) throw err;
              results.push({ id: accountId, outcome: "failed", error: (err as Error).message.split("\n")[0] });
            }
            if (progress) process.stderr.write(`\r${i + 1}/${ids.length} refreshed`);
          }
          if (progress) process.stderr.write("\n");
          await recordAudit(services.db, { action: "accounts.refresh_requested", actorType: "operator", actorId: "cli", detail: { count: ids.length } });
          const failed = results.filter((r) => r.outcome === "failed").length;
          printResult(options, id ? results[0] : { refreshed: results.length - failed, failed, results }, () =>
            id
              ? `${id}: ${results[0]!.outcome}`
              : `${results.length - failed} refreshed, ${failed} failed${
                  failed
                    ? `\n${results
                        .filter((r) => r.error)
                        .map((r) => `${r.id}: ${r.error}`)
                        .join("\n")}`
                    : ""
                }`,
          );
          if (failed) process.exitCode = EXIT.failed;
        },
        { redis: true },
      );
    });

  for (const [verb, remove, description] of [
    ["revoke", false, "revoke an account: upstream tokens revoked where supported, credentials removed, broker tokens revoked; the account stays, revoked"],
    ["delete", true, "revoke and delete an account"],
  ] as const) {
    accounts
      .command(`${verb} <id>`)
      .description(description)
      .option("--json", "print the result as JSON")
      .action(async (id: string, options: { json?: boolean }) => {
        const { endAccount } = await import("../../accounts/lifecycle.js");
        const { withServices } = await import("../context.js");
        await withServices(
          async (services) => {
            const result = await endAccount(services, id, { actorType: "operator", actorId: "cli" }, { remove });
            printResult(
              options,
              result,
              () =>
                `${id}: ${remove ? "deleted" : "revoked"} (upstream tokens ${result.upstreamRevoked ? "revoked" : "not revocable upstream"}, ${result.grantsRevoked} broker ${result.grantsRevoked === 1 ? "grant" : "grants"} revoked)`,
            );
          },
          { redis: true },
        );
      });
  }
}
