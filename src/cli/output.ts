/**
 * How every CLI verb reports: a result as JSON with `--json`, as readable
 * text otherwise; a failure as one line on stderr and a documented exit code
 * (./failure.ts words it). Imports nothing heavy: every verb loads it, also for `--help`.
 */

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
