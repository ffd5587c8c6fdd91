/**
 * Resident memory of another process, sampled from /proc/<pid>/status
 * (VmRSS) while a load runs: what the operating system actually gives the
 * broker, heap, code and buffers together.
 */
import { readFileSync } from "node:fs";

export interface RssSummary {
  /** MiB at the first sample. */
  startMiB: number;
  peakMiB: number;
  /** MiB at the last sample. */
  endMiB: number;
  samples: number;
}

/** VmRSS of `pid` in MiB, or undefined when the process is gone (or this is not Linux). */
export function readRssMiB(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples every `everyMs` until `stop()`, which returns the summary. */
export function sampleRss(pid: number, everyMs = 250): { stop(): RssSummary } {
  const values: number[] = [];
  const take = () => {
    const value = readRssMiB(pid);
    if (value !== undefined) values.push(value);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { startMiB: values[0] ?? NaN, peakMiB: values.length ? Math.max(...values) : NaN, endMiB: values.at(-1) ?? NaN, samples: values.length };
    },
  };
}

/**
 * CPU time of a process so far, in ms: the whole process (every thread:
 * GC, libuv pool, crypto jobs) and its main thread alone (JavaScript's one
 * thread, the broker's bottleneck), from /proc/<pid>/stat and
 * /proc/<pid>/task/<pid>/stat. Counted in clock ticks (10 ms), so it is
 * meaningful over thousands of requests; unlike requests/s, it hardly moves
 * when other processes compete for the cores.
 */
export function readCpuMs(pid: number): { processMs: number; mainThreadMs: number } | undefined {
  const ticks = (path: string) => {
    const fields = readFileSync(path, "utf8").split(") ")[1]!.split(" ");
    // utime and stime: fields 14 and 15 of stat(5), 12 and 13 after "pid (comm) ".
    return (Number(fields[11]) + Number(fields[12])) * 10;
  };
  try {
    return { processMs: ticks(`/proc/${pid}/stat`), mainThreadMs: ticks(`/proc/${pid}/task/${pid}/stat`) };
  } catch {
    return undefined;
  }
}

export function formatMiB(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(0)} MiB` : "—";
}

/** Busy CPU time of the whole machine so far (every process, every core), in ms, from /proc/stat. */
export function readMachineBusyMs(): number | undefined {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = fields;
    return (user + nice + system + irq + softirq) * 10;
  } catch {
    return undefined;
  }
}
