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

/** Samples memory while `work` runs; returns its result and the largest growth over the baseline. */
export async function measuringMemory<T>(work: () => Promise<T>): Promise<{ result: T; rssGrowth: number; arrayBuffersGrowth: number }> {
  const gc = exposedGc();
  gc();
  const baseline = process.memoryUsage();
  let peak = { rss: baseline.rss, arrayBuffers: baseline.arrayBuffers };
  const sample = () => {
    gc();
    gc();
    const now = process.memoryUsage();
    peak = { rss: Math.max(peak.rss, now.rss), arrayBuffers: Math.max(peak.arrayBuffers, now.arrayBuffers) };
  };
  const timer = setInterval(sample, 100);
  try {
    const result = await work();
    sample();
    return { result, rssGrowth: peak.rss - baseline.rss, arrayBuffersGrowth: peak.arrayBuffers - baseline.arrayBuffers };
  } finally {
    clearInterval(timer);
  }
}
