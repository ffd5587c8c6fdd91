/**
 * How every CLI verb reports: a result as JSON with `--json`, as readable
 * text otherwise; a failure as one line on stderr and a documented exit code.
 */
import { ConfigError } from "../config.js";
import { BrokerError } from "../errors.js";
import { PreflightError } from "../preflight.js";

/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  /** The operation failed (a dependency is down, the upstream refused…). */
  failed: 1,
  /** Bad usage or invalid input: fix the command line or the file. */
  usage: 2,
  /** The named thing does not exist. */
  notFound: 3,
} as const;

/** A CLI failure with its exit code; the message is printed as one line. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}

export interface OutputOptions {
  json?: boolean;
}

export function printResult(options: OutputOptions, value: unknown, text: () => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

/** Aligned text table for list verbs. */
export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return "(none)";
  const cells = rows.map((r) => columns.map((c) => formatCell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join("\n");
}

function formatCell(value: unknown): string {
  if (value === null || value === undefined) return "-";
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.join(",") || "-";
  return String(value);
}

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
