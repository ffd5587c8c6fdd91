/**
 * `authbroker webhooks deliveries|redeliver`: the webhook delivery log
 * (what was sent to which app, how each delivery went) and sending one
 * again, through the same functions as the admin API.
 */
import type { Command } from "commander";
import { CliError, EXIT, printResult, table } from "../output.js";

const STATUSES = ["pending", "delivered", "failed"];

export function registerWebhooks(program: Command): void {
  const webhooks = program.command("webhooks").description("webhooks to apps: the delivery log and redelivery");

  webhooks
    .command("deliveries")
    .description("list webhook deliveries, newest first")
    .option("--app <client_id>", "only deliveries to this app")
    .option("--status <status>", `only deliveries in this status (${STATUSES.join(", ")})`)
    .option("--limit <n>", "at most this many (1-500)", "50")
    .option("--json", "print the result as JSON")
    .action(async (options: { app?: string; status?: string; limit: string; json?: boolean }) => {
      if (options.status && !STATUSES.includes(options.status)) throw new CliError(`--status must be one of ${STATUSES.join(", ")}`, EXIT.usage);
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new CliError("--limit must be an integer 1-500", EXIT.usage);
      const { listDeliveries } = await import("../../jobs/webhook-deliveries.js");
      const { withServices } = await import("../context.js");
      await withServices(async (services) => {
        const { data } = await listDeliveries(services.db, { appId: options.app, status: options.status as never, limit });
        printResult(options, data, () =>
          table(data as unknown as Record<string, unknown>[], [
            "id",
            "client_id",
            "event_type",
            "account_id",
            "status",
            "attempts",
            "last_response_status",
            "last_error",
            "created_at",
          ]),
        );
      });
    });

  webhooks
    .command("redeliver <delivery_id>")
    .description("send a delivered or failed webhook again (same webhook-id, new signature, new retries); a worker sends it")
    .option("--json", "print the result as JSON")
    .action(async (deliveryId: string, options: { json?: boolean }) => {
      const { redeliver } = await import("../../jobs/webhook-deliveries.js");
      const { recordAudit } = await import("../../audit.js");
      const { withServices } = await import("../context.js");
      await withServices(async (services) => {
        const view = await redeliver(services, deliveryId);
        await recordAudit(services.db, { action: "webhook.redelivered", actorType: "operator", actorId: "cli", appId: view.client_id, detail: { deliveryId } });
        printResult(options, view, () => `redelivery of ${view.id} (${view.event_type} to ${view.client_id}) queued`);
      });
    });
}
