/**
 * One measured load: autocannon against 127.0.0.1 for a fixed time with a
 * fixed number of connections (it stops by itself), after a short warm-up
 * (JIT, connection pools, caches), while the target's RSS is sampled.
 */
import autocannon from "autocannon";
import { formatMiB, readCpuMs, readMachineBusyMs, sampleRss, type RssSummary } from "./rss.js";

export interface LoadTarget {
  /** Row label. */
  name: string;
  url: string;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  /**
   * Per-request body (autocannon's setupRequest hook): e.g. a fresh refresh
   * token each time. Returns undefined when it has nothing left to send; the
   * run then stops early and says so.
   */
  nextBody?: () => string | undefined;
  /** Process whose RSS is sampled (the server under test). */
  pid: number;
}

export interface LoadOptions {
  connections: number;
  seconds: number;
  warmupSeconds: number;
}

export interface LoadResult {
  name: string;
  /** Mean requests/s over the measured seconds (2xx only counted in `ok`). */
  rps: number;
  /** 2xx responses per second. */
  okPerSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  requests: number;
  errors: number;
  non2xx: number;
  /** The measured run ran out of per-request bodies before its time was up. */
  exhausted: boolean;
  rss: RssSummary;
  /** CPU µs the server spent per answered request: main thread, and whole process. NaN off Linux. */
  cpuPerRequest: { mainThreadUs: number; processUs: number };
  /** Busy CPU µs of the whole machine per answered request: the server, its databases, and the load generator. */
  machineCpuPerRequestUs: number;
}

function validateTarget(target: LoadTarget): void {
  const host = new URL(target.url).hostname;
  // Every load this project generates stays on this machine.
  if (host !== "127.0.0.1" && host !== "localhost") throw new TypeError(`bench targets must be on 127.0.0.1, not ${host}`);
}

async function fire(target: LoadTarget, options: { connections: number; seconds: number }): Promise<{ result: autocannon.Result; exhausted: boolean }> {
  let exhausted = false;
  let instance: autocannon.Instance | undefined;
  const request: autocannon.Request = {
    method: target.method ?? "GET",
    path: new URL(target.url).pathname + new URL(target.url).search,
    headers: target.headers ?? {},
    ...(target.body !== undefined ? { body: target.body } : {}),
  };
  if (target.nextBody) {
    const nextBody = target.nextBody;
    request.setupRequest = (req) => {
      const body = nextBody();
      if (body === undefined) {
        if (!exhausted) {
          exhausted = true;
          // Stop rather than send a used token: the figure would count refusals.
          setImmediate(() => instance?.stop());
        }
        return { ...req, body: "grant_type=refresh_token&refresh_token=exhausted" };
      }
      return { ...req, body };
    };
  }
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: new URL(target.url).origin,
        connections: options.connections,
        pipelining: 1,
        duration: options.seconds,
        requests: [request],
        // A slow answer is a data point, not a hang: bounded anyway.
        timeout: 10,
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
  });
  return { result, exhausted };
}

export async function runLoad(target: LoadTarget, options: LoadOptions): Promise<LoadResult> {
  validateTarget(target);
  if (options.warmupSeconds > 0) await fire(target, { connections: options.connections, seconds: options.warmupSeconds });
  const rss = sampleRss(target.pid);
  const cpuBefore = readCpuMs(target.pid);
  const machineBefore = readMachineBusyMs();
  const { result, exhausted } = await fire(target, { connections: options.connections, seconds: options.seconds });
  const cpuAfter = readCpuMs(target.pid);
  const machineAfter = readMachineBusyMs();
  const rssSummary = rss.stop();
  const answered = Math.max(1, result["2xx"] + result.non2xx);
  const cpuPerRequest =
    cpuBefore && cpuAfter
      ? {
          mainThreadUs: ((cpuAfter.mainThreadMs - cpuBefore.mainThreadMs) * 1000) / answered,
          processUs: ((cpuAfter.processMs - cpuBefore.processMs) * 1000) / answered,
        }
      : { mainThreadUs: NaN, processUs: NaN };
  const elapsedSeconds = Math.max(result.duration, 0.001);
  const ok = result["2xx"];
  return {
    name: target.name,
    rps: result.requests.average,
    okPerSecond: ok / elapsedSeconds,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    requests: result.requests.total,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    exhausted,
    rss: rssSummary,
    cpuPerRequest,
    machineCpuPerRequestUs: machineBefore !== undefined && machineAfter !== undefined ? ((machineAfter - machineBefore) * 1000) / answered : NaN,
  };
}

/** One request before the load, to fail with the server's answer when a target is misconfigured. */
export async function checkTarget(
  target: LoadTarget,
  expect: (status: number, body: string) => string | undefined = (s) => (s === 200 ? undefined : `status ${s}`),
): Promise<void> {
  validateTarget(target);
  const body = target.nextBody ? target.nextBody() : target.body;
  const res = await fetch(target.url, { method: target.method ?? "GET", headers: target.headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  const problem = expect(res.status, text);
  if (problem) throw new Error(`${target.name}: ${problem}: ${text.slice(0, 300)}`);
}

/** The middle value; the mean of the two middle ones for an even count (two rounds: their mean). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The median of each figure over rounds of the same target (RSS: peak of peaks). */
export function medianResult(runs: LoadResult[]): LoadResult {
  const pick = (key: "rps" | "okPerSecond" | "p50" | "p90" | "p99") => median(runs.map((r) => r[key]));
  return {
    name: runs[0]!.name,
    rps: pick("rps"),
    okPerSecond: pick("okPerSecond"),
    p50: pick("p50"),
    p90: pick("p90"),
    p99: pick("p99"),
    max: Math.max(...runs.map((r) => r.max)),
    requests: runs.reduce((n, r) => n + r.requests, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    exhausted: runs.some((r) => r.exhausted),
    cpuPerRequest: { mainThreadUs: median(runs.map((r) => r.cpuPerRequest.mainThreadUs)), processUs: median(runs.map((r) => r.cpuPerRequest.processUs)) },
    machineCpuPerRequestUs: median(runs.map((r) => r.machineCpuPerRequestUs)),
    rss: {
      startMiB: runs[0]!.rss.startMiB,
      peakMiB: Math.max(...runs.map((r) => r.rss.peakMiB)),
      endMiB: runs.at(-1)!.rss.endMiB,
      samples: runs.reduce((n, r) => n + r.rss.samples, 0),
    },
  };
}

export function numberFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number, not ${JSON.stringify(raw)}`);
  return value;
}

/** A target measured in rounds: `prepare` runs before each round (to mint a fresh pool, say). */
export interface BenchCase {
  name: string;
  prepare(): Promise<LoadTarget>;
  /** Whether the one check request before the load got the right answer; a message when not. */
  expect?: (status: number, body: string) => string | undefined;
}

export interface BenchSettings extends LoadOptions {
  rounds: number;
}

/** Standard settings from the environment: BENCH_SECONDS, BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_ROUNDS. */
export function settingsFromEnv(defaults: Partial<BenchSettings> = {}): BenchSettings {
  return {
    seconds: numberFromEnv("BENCH_SECONDS", defaults.seconds ?? 10),
    warmupSeconds: numberFromEnv("BENCH_WARMUP", defaults.warmupSeconds ?? 2),
    connections: numberFromEnv("BENCH_CONNECTIONS", defaults.connections ?? 16),
    rounds: numberFromEnv("BENCH_ROUNDS", defaults.rounds ?? 2),
  };
}

/**
 * Every case once per round, rounds interleaved (a burst of load from
 * elsewhere on the machine then hits every target alike), and the median of
 * each figure over the rounds. BENCH_ONLY (comma-separated names) narrows the cases.
 */
export async function measureCases(cases: BenchCase[], settings: BenchSettings): Promise<Map<string, LoadResult>> {
  const only = process.env.BENCH_ONLY?.split(",").map((s) => s.trim());
  const chosen = cases.filter((c) => !only || only.includes(c.name));
  const runs = new Map<string, LoadResult[]>();
  for (let round = 1; round <= settings.rounds; round++) {
    for (const c of chosen) {
      process.stderr.write(`round ${round}/${settings.rounds}: ${c.name}: preparing…\n`);
      const target = await c.prepare();
      // A misconfigured target fails here with the server's answer, not as a column of errors.
      await checkTarget(target, c.expect);
      const result = await runLoad(target, settings);
      process.stderr.write(
        `  ${result.okPerSecond.toFixed(0)} ok/s, p50 ${result.p50} ms, p99 ${result.p99} ms, CPU/request ${result.cpuPerRequest.mainThreadUs.toFixed(0)} µs main thread / ${result.cpuPerRequest.processUs.toFixed(0)} µs process / ${result.machineCpuPerRequestUs.toFixed(0)} µs machine, errors ${result.errors + result.non2xx}${result.exhausted ? " (pool ran out)" : ""}\n`,
      );
      runs.set(c.name, [...(runs.get(c.name) ?? []), result]);
    }
  }
  return new Map([...runs].map(([name, results]) => [name, medianResult(results)]));
}

/** The usual columns of a result row after its label columns. */
export function resultCells(r: LoadResult): string[] {
  return [
    r.okPerSecond.toFixed(0),
    `${r.p50} / ${r.p90} / ${r.p99}`,
    `${r.cpuPerRequest.mainThreadUs.toFixed(0)} / ${r.cpuPerRequest.processUs.toFixed(0)}`,
    String(r.errors + r.non2xx),
    `${formatMiB(r.rss.startMiB)} → ${formatMiB(r.rss.peakMiB)}`,
  ];
}

export const RESULT_HEADER = ["ok/s", "latency p50 / p90 / p99 (ms)", "server CPU µs/request (main thread / process)", "errors", "server RSS start → peak"];

export function settingsLine(settings: BenchSettings): string {
  return `autocannon: ${settings.connections} connections, ${settings.seconds} s measured after ${settings.warmupSeconds} s warm-up, ${settings.rounds} interleaved round(s), medians shown. CPU: the server's own CPU time over the measured run divided by the answers (main thread: JavaScript's one thread; process: with GC and libuv threads). RSS: the server's VmRSS, sampled every 250 ms (start of the first measured run → peak).`;
}
