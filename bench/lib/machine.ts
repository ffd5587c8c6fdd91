/**
 * The machine a benchmark ran on, as every report states it: a figure means
 * nothing without the cores, CPU, memory and Node version behind it.
 */
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg, totalmem } from "node:os";

export interface Machine {
  /** Cores this process may use (what `nproc` prints). */
  nproc: number;
  /** `model name` of the first CPU in /proc/cpuinfo. */
  cpuModel: string;
  /** Total memory, GiB, from /proc/meminfo (os.totalmem elsewhere). */
  ramGiB: number;
  node: string;
  platform: string;
}

function cpuModelFromProc(): string | undefined {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    return line?.split(":").slice(1).join(":").trim();
  } catch {
    return undefined;
  }
}

function memTotalKiB(): number {
  try {
    const match = /^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"));
    if (match) return Number(match[1]);
  } catch {
    /* not Linux */
  }
  return totalmem() / 1024;
}

export function describeMachine(): Machine {
  return {
    nproc: availableParallelism(),
    cpuModel: cpuModelFromProc() ?? "unknown CPU",
    ramGiB: Math.round((memTotalKiB() / 1024 / 1024) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/** One line for a report: "2 × AMD EPYC (nproc 2), 23.5 GiB RAM, Node v20.20.2, linux x64". */
export function machineLine(machine = describeMachine()): string {
  return `${machine.nproc} × ${machine.cpuModel} (nproc ${machine.nproc}), ${machine.ramGiB} GiB RAM, Node ${machine.node}, ${machine.platform}`;
}

/** The 1/5/15-minute load averages, to tell a quiet machine from a busy one. */
export function loadLine(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ");
}
