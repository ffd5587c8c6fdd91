/**
 * One measured load with wrk (Debian package `wrk`): a C load generator
 * with microsecond latency histograms and little CPU of its own, so the
 * loopback figures are the server's, not the client's. Runs a warm-up first
 * (JIT, pools, caches), samples the server's RSS and CPU during the measured
 * run. The Lua script (wrk-report.lua) prints wrk's summary as JSON.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { readCpuMs, sampleRss } from "./rss.js";

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL("./wrk-report.lua", import.meta.url));

export interface WrkTarget {
  name: string;
  url: string;
  headers?: Record<string, string>;
  /** The server process answering (its CPU and RSS are measured). */
  pid: number;
}

export interface WrkOptions {
  threads: number;
  connections: number;
  seconds: number;
  warmupSeconds: number;
}

export interface WrkResult {
  name: string;
  rps: number;
  /** Latency percentiles in microseconds. */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** Socket errors, timeouts and answers >= 400. */
  errors: number;
  /** Server CPU µs per answered request: main thread (JavaScript), whole process (with GC and libuv threads). */
  cpuMainUs: number;
  cpuProcessUs: number;
  rssPeakMiB: number;
}

interface WrkSummary {
  requests: number;
  durationUs: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Whether wrk is on the PATH (the bench says how to install it when not). */
export async function wrkAvailable(): Promise<boolean> {
  try {
    await run("wrk", ["--version"]);
    return true;
  } catch (err) {
    // `wrk --version` prints its usage and exits 1: present.
    return (err as { code?: unknown }).code === 1;
  }
}

async function wrk(target: WrkTarget, options: WrkOptions, seconds: number): Promise<WrkSummary> {
  const host = new URL(target.url).hostname;
  // Every load this project generates stays on this machine.
  if (host !== "127.0.0.1" && host !== "localhost") throw new TypeError(`bench targets must be on 127.0.0.1, not ${host}`);
  const args = ["-t", String(options.threads), "-c", String(options.connections), "-d", `${seconds}s`, "--timeout", "10s", "-s", SCRIPT];
  for (const [name, value] of Object.entries(target.headers ?? {})) args.push("-H", `${name}: ${value}`);
  args.push(target.url);
  const { stdout } = await run("wrk", args, { maxBuffer: 1 << 20 });
  const line = stdout.trim().split("\n").at(-1)!;
  return JSON.parse(line) as WrkSummary;
}

export async function runWrk(target: WrkTarget, options: WrkOptions): Promise<WrkResult> {
  if (options.warmupSeconds > 0) await wrk(target, options, options.warmupSeconds);
  const rss = sampleRss(target.pid);
  const before = readCpuMs(target.pid);
  const summary = await wrk(target, options, options.seconds);
  const after = readCpuMs(target.pid);
  const rssSummary = rss.stop();
  const answered = Math.max(1, summary.requests);
  return {
    name: target.name,
    rps: summary.requests / (summary.durationUs / 1e6),
    p50: summary.p50,
    p90: summary.p90,
    p99: summary.p99,
    p999: summary.p999,
    max: summary.max,
    errors: summary.connect + summary.read + summary.write + summary.status + summary.timeout,
    cpuMainUs: before && after ? ((after.mainThreadMs - before.mainThreadMs) * 1000) / answered : NaN,
    cpuProcessUs: before && after ? ((after.processMs - before.processMs) * 1000) / answered : NaN,
    rssPeakMiB: rssSummary.peakMiB,
  };
}
