/**
 * Measuring what a streamed transfer holds in memory, for the tests that
 * prove bodies pass through the proxy without being buffered.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * The garbage collector, without --expose-gc on the command line. Chunks
 * read from sockets are garbage as soon as they are passed on, but V8
 * collects external memory only past a soft limit of tens of MB; collecting
 * before each sample makes the samples show what is held, so a proxy that
 * buffered a body could not hide in the collector's slack. Twice: the
 * backing stores a collection frees are swept concurrently, and
 * `arrayBuffers` still counted the last 100 ms of garbage (20–30 MB at
 * these speeds) until the next collection finished that sweep.
 */
function exposedGc(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

/**
 * The collector may take at most this share of the time: each sample waits
 * for (1 / share - 1) times what its collections took. Two full collections
 * of a test process's heap (the broker, Prisma, s3rver…) take 50–100 ms on
 * a quiet machine and several times that on a loaded one; sampled at a
 * fixed 100 ms, a loaded run did nothing but collect, and a 50 MB upload
 * outlasted the server's 120 s request timeout.
 */
const MAX_GC_SHARE = 0.25;
/** Never more often than this. */
const MIN_SAMPLE_INTERVAL_MS = 100;

/**
 * Samples memory while `work` runs; returns its result and the largest growth over the baseline.
 * `arrayBuffers` (Buffers) and `heapGrowth` (the V8 heap: a body turned into strings) are exact,
 * each sampled after two collections; RSS also counts the allocator's slack.
 *
 * `warmUp` runs once before the baseline is taken: a transfer like the
 * measured one. RSS counts what the C allocator keeps after freeing, and
 * Node 24 keeps much of a first large transfer's freed chunks (a 100 MB
 * download: RSS +85–90 MB, with `arrayBuffers`, `external` and the V8 heap
 * flat; Node 20: +10–20 MB). The allocator reuses them, so a second
 * transfer grows by nothing: measured after a warm-up, RSS shows what a
 * transfer holds in the steady state, and a proxy that buffered bodies
 * would still grow by the body on every transfer (and show it in
 * `arrayBuffers`, which is measured over the transfer alone either way).
 */
export async function measuringMemory<T>(
  work: () => Promise<T>,
  options: { warmUp?: () => Promise<unknown> } = {},
): Promise<{ result: T; rssGrowth: number; arrayBuffersGrowth: number; heapGrowth: number }> {
  const gc = exposedGc();
  if (options.warmUp) await options.warmUp();
  gc();
  gc();
  const baseline = process.memoryUsage();
  let peak = { rss: baseline.rss, arrayBuffers: baseline.arrayBuffers, heapUsed: baseline.heapUsed };
  /** Samples once; returns how long its collections took. */
  const sample = (): number => {
    const started = performance.now();
    gc();
    gc();
    const collected = performance.now() - started;
    const now = process.memoryUsage();
    peak = {
      rss: Math.max(peak.rss, now.rss),
      arrayBuffers: Math.max(peak.arrayBuffers, now.arrayBuffers),
      heapUsed: Math.max(peak.heapUsed, now.heapUsed),
    };
    return collected;
  };
  let timer: NodeJS.Timeout | undefined;
  const schedule = (afterMs: number) => {
    timer = setTimeout(() => schedule(Math.max(MIN_SAMPLE_INTERVAL_MS, sample() * (1 / MAX_GC_SHARE - 1))), afterMs);
  };
  schedule(MIN_SAMPLE_INTERVAL_MS);
  try {
    const result = await work();
    sample();
    return {
      result,
      rssGrowth: peak.rss - baseline.rss,
      arrayBuffersGrowth: peak.arrayBuffers - baseline.arrayBuffers,
      heapGrowth: peak.heapUsed - baseline.heapUsed,
    };
  } finally {
    clearTimeout(timer);
  }
}
