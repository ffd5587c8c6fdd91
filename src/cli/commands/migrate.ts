/** `authbroker migrate`: create the database if needed, then apply the committed migrations. */
import type { Command } from "commander";
import { printResult } from "../output.js";

export function registerMigrate(program: Command): void {
  program
    .command("migrate")
    .description("create the database if it does not exist and apply every migration in prisma/migrations")
    .option("--json", "print the result as JSON")
    .action(async (options: { json?: boolean }) => {
      const { loadConfig } = await import("../../config.js");
      const { describeDatabaseUrl } = await import("../../db.js");
      const { migrateDatabase } = await import("../migrations.js");
      const { databaseUrl } = loadConfig({
        ...process.env,
        BROKER_ENCRYPTION_KEYS: process.env.BROKER_ENCRYPTION_KEYS || "unused:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
      });
      const { created } = await migrateDatabase(databaseUrl);
      printResult(
        options,
        { database: describeDatabaseUrl(databaseUrl), created, migrated: true },
        () => `${created ? "created and " : ""}migrated ${describeDatabaseUrl(databaseUrl)}`,
      );
    });
}
