/**
 * The one line a CLI failure prints. Apart from ./output.ts because it knows
 * the error classes of the layers below (and so loads zod, pg, ioredis):
 * the CLI imports it only when something failed.
 */
import { ConfigError } from "../config.js";
import { BrokerError } from "../errors.js";
import { PreflightError } from "../preflight.js";
import { CliError, EXIT } from "./output.js";

/** The one line and exit code for an error that reached the top of the CLI. */
export function describeFailure(err: unknown): { line: string; exitCode: number } {
  if (err instanceof CliError) return { line: err.message, exitCode: err.exitCode };
  if (err instanceof ConfigError) return { line: `configuration error: ${err.message}`, exitCode: EXIT.usage };
  if (err instanceof PreflightError) return { line: err.message, exitCode: EXIT.failed };
  if (err instanceof BrokerError && err.expose)
    return { line: `${err.code}: ${err.description}`, exitCode: err.status === 404 ? EXIT.notFound : err.status < 500 ? EXIT.usage : EXIT.failed };
  if (err instanceof BrokerError) return { line: `${err.code}: ${err.description}${err.detail ? ` (${err.detail})` : ""}`, exitCode: EXIT.failed };
  const e = err as { code?: string; message?: string };
  return { line: `failed: ${e?.message?.split("\n")[0] ?? String(err)}`, exitCode: EXIT.failed };
}
