/**
 * Prometheus metrics for the proxy's per-call numbers, written by hand for
 * measured speed (docs/architecture.md): a series is resolved once
 * (`series(...)`, per connector, or per connector and status) and counting
 * into it touches only numbers. prom-client's `observe` and `inc`, even
 * through a child bound with `labels()`, convert, validate and hash the
 * labels on every call: 2.8 µs of a proxied call in the bench profile
 * for the two histograms and the counter. They register in prom-client's
 * registry, which reads `get()` at a scrape, and give the same text as
 * prom-client's own Histogram and Counter (test/unit/metrics compares them
 * byte for byte).
 */
import type { Metric, Registry } from "prom-client";

/** One line of a scrape, as prom-client's registry reads it. */
interface ScrapedValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** What a scrape reads of a metric. */
interface Scraped {
  name: string;
  help: string;
  type: "counter" | "histogram";
  values: ScrapedValue[];
  aggregator: "sum";
}

/** The series of one metric by their label values, each made once. */
abstract class SeriesMetric<S extends { labels: Record<string, string> }> {
  readonly aggregator = "sum";
  protected readonly all = new Map<string, S>();
  abstract readonly type: Scraped["type"];

  constructor(
    public name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of these label values (in `labelNames` order), made on first use by `make`. */
  protected seriesOf(values: readonly string[], make: (labels: Record<string, string>) => S): S {
    const key = values.join("\u0000");
    let series = this.all.get(key);
    if (!series) {
      if (values.length !== this.labelNames.length) throw new TypeError(`${this.name} takes ${this.labelNames.length} label value(s)`);
      series = make(Object.fromEntries(this.labelNames.map((name, i) => [name, values[i]!])));
      this.all.set(key, series);
    }
    return series;
  }

  abstract get(): Promise<Scraped>;
  abstract reset(): void;
}

/** One series of a `SeriesHistogram`. */
export interface HistogramSeries {
  observe(value: number): void;
}

interface BucketCounts {
  labels: Record<string, string>;
  /** Per bucket, the observations at most its bound and above the one before (made cumulative when scraped). */
  counts: Float64Array;
  sum: number;
  count: number;
}

/** A histogram: an observation is a bucket search and three additions. */
export class SeriesHistogram extends SeriesMetric<BucketCounts> {
  readonly type = "histogram";

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
  }

  series(...values: string[]): HistogramSeries {
    const series = this.seriesOf(values, (labels) => ({ labels, counts: new Float64Array(this.buckets.length), sum: 0, count: 0 }));
    const { buckets } = this;
    return {
      observe(value: number) {
        // prom-client throws on these; a proxied call must not fail for its metric.
        if (!Number.isFinite(value)) return;
        for (let i = 0; i < buckets.length; i++) {
          if (value <= buckets[i]!) {
            series.counts[i]! += 1;
            break;
          }
        }
        series.sum += value;
        series.count += 1;
      },
    };
  }

  /** Cumulative buckets, `+Inf`, sum and count per series, as prom-client's Histogram gives them. */
  async get(): Promise<Scraped> {
    const values: ScrapedValue[] = [];
    for (const { labels, counts, sum, count } of this.all.values()) {
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += counts[i]!;
        values.push({ labels: { le: bound, ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: "+Inf", ...labels }, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const series of this.all.values()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}

/** One series of a `SeriesCounter`. */
export interface CounterSeries {
  inc(): void;
}

/** A counter: counting is one addition. */
export class SeriesCounter extends SeriesMetric<{ labels: Record<string, string>; value: number }> {
  readonly type = "counter";

  series(...values: string[]): CounterSeries {
    const series = this.seriesOf(values, (labels) => ({ labels, value: 0 }));
    return {
      inc() {
        series.value += 1;
      },
    };
  }

  async get(): Promise<Scraped> {
    const values = [...this.all.values()].map(({ labels, value }) => ({ labels, value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const series of this.all.values()) series.value = 0;
  }
}
