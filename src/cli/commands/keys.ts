/** `authbroker keys rotate`: re-seal everything under the current key and make a new signing key. */
import type { Command } from "commander";
import type { Services } from "../../services.js";
import { printResult } from "../output.js";

/** Longest lifetime of a token a signing key may have signed: the largest per-app access/ID token TTL. */
async function longestTokenLifetime(services: Services): Promise<number> {
  const [row] = await services.db.$queryRawUnsafe<{ ttl: number | null }[]>(`SELECT max(greatest("accessTokenTtl", "idTokenTtl")) AS ttl FROM "App"`);
  return Math.max(3600, Number(row?.ttl ?? 0));
}

export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("encryption and signing keys");
  keys
    .command("rotate")
    .description("re-seal every sealed value under the first key of BROKER_ENCRYPTION_KEYS and create a new token-signing key")
    .option("--json", "print the result as JSON")
    .action(async (options: { json?: boolean }) => {
      const { countStale, rotateKeys } = await import("../../crypto/rotate.js");
      const { withServices } = await import("../context.js");
      await withServices(async (services) => {
        const stale = await countStale(services.db, services.keyring);
        const showProgress = !options.json && process.stderr.isTTY;
        const result = await rotateKeys(services.db, services.keyring, services.signingKeys, {
          publishForSeconds: await longestTokenLifetime(services),
          onProgress: showProgress ? (p) => process.stderr.write(`\r${p.column}: ${p.resealed}/${stale} re-sealed`) : undefined,
        });
        if (showProgress) process.stderr.write("\n");
        printResult(options, { currentKid: services.keyring.currentKid, ...result }, () =>
          [
            `re-sealed ${result.resealed} value(s) under key "${services.keyring.currentKid}"`,
            `new signing key ${result.signingKid}${result.previousSigningKid ? `; ${result.previousSigningKid} stays published until its tokens expire` : ""}`,
            `keys other than "${services.keyring.currentKid}" can now be removed from BROKER_ENCRYPTION_KEYS`,
          ].join("\n"),
        );
      });
    });
}
