/**
 * `authbroker dev`, what `npm start` runs: the broker for development on
 * this machine. PostgreSQL and Redis are embedded where none is configured
 * or running (./development-defaults.ts), the database is migrated, then
 * the broker serves HTTP and runs the workers (`all`) until SIGTERM/SIGINT,
 * and stops what it embedded after it has drained.
 */
import type { Command } from "commander";

export function registerDev(program: Command): void {
  program
    .command("dev")
    .description(
      "development (what `npm start` runs): embed PostgreSQL and Redis where none is configured or running, migrate, then run `all`; never embeds with NODE_ENV=production",
    )
    .action(async () => {
      const { runUntilSignal } = await import("../../main.js");
      const { startDevelopmentDefaults } = await import("../development-defaults.js");
      const { migrateDatabase } = await import("../migrations.js");
      let stopEmbedded: () => Promise<void> = async () => undefined;
      await runUntilSignal("all", {
        before: async (config, log) => {
          const defaults = await startDevelopmentDefaults(process.env, log);
          stopEmbedded = defaults.stop;
          const { created } = await migrateDatabase(config.databaseUrl);
          log.info({ created }, "database migrated");
        },
        after: () => stopEmbedded(),
      });
      // Keep the process alive: the server and workers hold it open.
      await new Promise<never>(() => undefined);
    });
}
