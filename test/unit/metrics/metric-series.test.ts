/**
 * The proxy's hand-written metrics (metric-series.ts) must be
 * indistinguishable from prom-client's own at a scrape: the same
 * observations and counts give the same exposition text, byte for byte.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Counter, Histogram, Registry } from "prom-client";
import { SeriesCounter, SeriesHistogram } from "../../../src/metric-series.js";

const BUCKETS = [0.001, 0.01, 0.1, 1];
// On a bound, between bounds, below the first, above the last.
const OBSERVED: Record<string, number[]> = { files: [0.001, 0.0005, 0.05, 0.1, 2.5, 0.01], mail: [0.2, 1, 30] };

function both(): { ours: SeriesHistogram; theirs: Histogram<"connector">; oursRegistry: Registry; theirsRegistry: Registry } {
  const oursRegistry = new Registry();
  const theirsRegistry = new Registry();
  const ours = new SeriesHistogram("authbroker_test_seconds", "a test histogram", ["connector"], BUCKETS, oursRegistry);
  const theirs = new Histogram({
    name: "authbroker_test_seconds",
    help: "a test histogram",
    labelNames: ["connector"],
    buckets: BUCKETS,
    registers: [theirsRegistry],
  });
  return { ours, theirs, oursRegistry, theirsRegistry };
}

describe("SeriesHistogram", () => {
  it("is scraped exactly as prom-client's Histogram with the same observations", async () => {
    const { ours, theirs, oursRegistry, theirsRegistry } = both();
    for (const [connector, values] of Object.entries(OBSERVED)) {
      const series = ours.series(connector);
      for (const value of values) {
        series.observe(value);
        theirs.observe({ connector }, value);
      }
    }
    const text = await oursRegistry.metrics();
    assert.equal(text, await theirsRegistry.metrics());
    assert.match(text, /authbroker_test_seconds_bucket\{le="0.1",connector="files"\} 5/);
  });

  it("counts a series resolved twice in one place, and a histogram without labels", async () => {
    const registry = new Registry();
    const histogram = new SeriesHistogram("authbroker_plain_seconds", "plain", [], BUCKETS, registry);
    histogram.series().observe(0.5);
    histogram.series().observe(0.005);
    const [scraped] = (await histogram.get()).values.filter((v) => v.metricName === "authbroker_plain_seconds_count");
    assert.equal(scraped?.value, 2);
    assert.deepEqual(scraped?.labels, {});
  });

  it("does not count a value that is not a number, and reset zeroes every series", async () => {
    const { ours } = both();
    const series = ours.series("files");
    series.observe(Number.NaN);
    series.observe(Number.POSITIVE_INFINITY);
    series.observe(0.02);
    const count = async () => (await ours.get()).values.find((v) => v.metricName === "authbroker_test_seconds_count")?.value;
    assert.equal(await count(), 1);
    ours.reset();
    assert.equal(await count(), 0);
  });

  it("refuses a series with the wrong number of label values", () => {
    const { ours } = both();
    assert.throws(() => ours.series(), TypeError);
    assert.throws(() => ours.series("a", "b"), TypeError);
  });
});

describe("SeriesCounter", () => {
  it("is scraped exactly as prom-client's Counter with the same counts", async () => {
    const oursRegistry = new Registry();
    const theirsRegistry = new Registry();
    const ours = new SeriesCounter("authbroker_test_total", "a test counter", ["connector", "status"], oursRegistry);
    const theirs = new Counter({ name: "authbroker_test_total", help: "a test counter", labelNames: ["connector", "status"], registers: [theirsRegistry] });
    const calls: [string, string][] = [
      ["files", "200"],
      ["files", "200"],
      ["files", "404"],
      ["none", "401"],
      ["files", "200"],
    ];
    for (const [connector, status] of calls) {
      ours.series(connector, status).inc();
      theirs.inc({ connector, status });
    }
    const text = await oursRegistry.metrics();
    assert.equal(text, await theirsRegistry.metrics());
    assert.match(text, /authbroker_test_total\{connector="files",status="200"\} 3/);
    ours.reset();
    assert.ok((await ours.get()).values.every((v) => v.value === 0));
    assert.throws(() => ours.series("files"), TypeError);
  });
});
