/** `authbroker serve|worker|all`: run a role until SIGTERM/SIGINT. */
import type { Command } from "commander";
import type { Role } from "../../main.js";

const ROLES: Record<Role, string> = {
  serve: "serve HTTP: the authorization server, connect pages, proxy and admin API",
  worker: "run the BullMQ workers: background refresh, reconciler, webhooks",
  all: "serve HTTP and run the workers in one process (`npm start` runs it through `dev`)",
};

export function registerRun(program: Command): void {
  for (const [role, description] of Object.entries(ROLES) as [Role, string][]) {
    program
      .command(role)
      .description(description)
      .action(async () => {
        const { runUntilSignal } = await import("../../main.js");
        await runUntilSignal(role);
        // Keep the process alive: the server and workers hold it open.
        await new Promise<never>(() => undefined);
      });
  }
}
