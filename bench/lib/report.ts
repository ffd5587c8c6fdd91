/**
 * Reports: each bench prints its tables and files the same text into
 * docs/benchmarks.md, at the end of its own `## <section>` (created on first
 * use, at the end of the file), so the newest run of a benchmark sits last
 * in its section and the document keeps the order a reader expects.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describeMachine, loadLine, machineLine } from "./machine.js";

export const BENCHMARKS_FILE = fileURLToPath(new URL("../../docs/benchmarks.md", import.meta.url));

/** A markdown table; `align` "r" right-aligns a column (numbers). */
export function table(header: string[], rows: (string | number)[][], align: ("l" | "r")[] = header.map((_, i) => (i === 0 ? "l" : "r"))): string {
  const line = (cells: (string | number)[]) => `| ${cells.map(String).join(" | ")} |`;
  return [line(header), line(align.map((a) => (a === "r" ? "---:" : "---"))), ...rows.map(line)].join("\n");
}

export interface RunReport {
  /** The `## ` heading of the benchmark's section. */
  section: string;
  /** What the section measures, written once when the section is created. */
  about: string;
  /** The command that produced the run (`npm run bench:token`). */
  command: string;
  /** The run's settings in one or two sentences. */
  settings: string;
  /** Tables and notes. */
  body: string;
}

/** The run as markdown: heading with the date, command, machine, settings, body. */
export function renderRun(run: RunReport, at = new Date()): string {
  const machine = describeMachine();
  return [
    `### ${run.section} — ${at.toISOString().slice(0, 16).replace("T", " ")} UTC`,
    "",
    `Command: \`${run.command}\``,
    "",
    `Machine: ${machineLine(machine)}; load average ${loadLine()} (1/5/15 min) at the end of the run.`,
    "",
    run.settings,
    "",
    run.body,
  ].join("\n");
}

/** Prints the run and files it at the end of its section of docs/benchmarks.md. */
export function publish(run: RunReport): void {
  const text = renderRun(run);
  process.stdout.write(`\n${text}\n`);
  if (process.env.BENCH_NO_REPORT === "1") return;
  const doc = existsSync(BENCHMARKS_FILE) ? readFileSync(BENCHMARKS_FILE, "utf8") : "# Benchmarks\n";
  const lines = doc.split("\n");
  const heading = `## ${run.section}`;
  let start = lines.findIndex((l) => l.trim() === heading);
  if (start === -1) {
    while (lines.length && lines.at(-1) === "") lines.pop();
    lines.push("", heading, "", run.about, "");
    start = lines.length - 4;
  }
  let end = lines.findIndex((l, i) => i > start && l.startsWith("## "));
  if (end === -1) end = lines.length;
  // Insert before the blank lines that close the section.
  let at = end;
  while (at > start + 1 && lines[at - 1] === "") at--;
  lines.splice(at, 0, "", ...text.split("\n"), ...(end === lines.length ? [] : [""]));
  writeFileSync(BENCHMARKS_FILE, `${lines.join("\n").replace(/\n*$/, "")}\n`);
  process.stderr.write(`(filed in ${BENCHMARKS_FILE})\n`);
}
