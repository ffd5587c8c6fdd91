/**
 * Prometheus metrics (prom-client), one registry per process. Names follow
 * Prometheus conventions: `_total` counters, `_seconds` histograms.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from "prom-client";

/** One series of a `SeriesHistogram`: its labels, found once; observing it touches only numbers. */
export interface HistogramSeries {
  observe(value: number): void;
}

/** One line of a scrape, as prom-client's registry reads it. */
interface ScrapedValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

interface SeriesCounts {
  labels: Record<string, string>;
  /** Per bucket, the observations at most its bound and above the one before (made cumulative when scraped). */
  counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A Prometheus histogram for the proxy's per-call observations, written
 * by hand for measured speed (docs/architecture.md): a series is resolved
 * once (`series(...)`, per connector), and an observation is a bucket
 * search and three additions. prom-client's `observe`, even through a
 * child bound with `labels()`, converts, validates and hashes the labels
 * and finds the bucket by a string key on every call: 1.6 µs of a proxied
 * call in the bench profile. Exposed through the same registry in the
 * same text (the registry reads `get()`), so a scrape cannot tell them
 * apart from prom-client's own histograms.
 */
export class SeriesHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly all = new Map<string, SeriesCounts>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of these label values, in `labelNames` order. */
  series(...values: string[]): HistogramSeries {
    const key = values.join("\u0000");
    let series = this.all.get(key);
    if (!series) {
      if (values.length !== this.labelNames.length) throw new TypeError(`${this.name} takes ${this.labelNames.length} label value(s)`);
      const labels = Object.fromEntries(this.labelNames.map((name, i) => [name, values[i]!]));
      series = { labels, counts: new Float64Array(this.buckets.length), sum: 0, count: 0 };
      this.all.set(key, series);
    }
    const { buckets } = this;
    const counts = series;
    return {
      observe(value: number) {
        if (!Number.isFinite(value)) return;
        for (let i = 0; i < buckets.length; i++) {
          if (value <= buckets[i]!) {
            counts.counts[i]! += 1;
            break;
          }
        }
        counts.sum += value;
        counts.count += 1;
      },
    };
  }

  /** What the registry writes at a scrape: cumulative buckets, `+Inf`, sum and count per series, as prom-client's Histogram gives them. */
  async get(): Promise<{ name: string; help: string; type: "histogram"; values: ScrapedValue[]; aggregator: "sum" }> {
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

export class Metrics {
  readonly registry = new Registry();

  readonly refreshes = new Counter({
    name: "authbroker_refresh_total",
    help: "Upstream credential refreshes by connector and result (refreshed, joined, fresh, not_refreshable, needs_reauth, failed, rate_limited)",
    labelNames: ["connector", "result"] as const,
    registers: [this.registry],
  });

  readonly refreshDuration = new Histogram({
    name: "authbroker_refresh_duration_seconds",
    help: "Time a refresh job took, including the upstream call",
    labelNames: ["connector"] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly refreshLag = new Histogram({
    name: "authbroker_refresh_schedule_lag_seconds",
    help: "How late a refresh job started compared with its planned time",
    buckets: [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900],
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: "authbroker_queue_jobs",
    help: "Jobs in the broker's queues by queue and state",
    labelNames: ["queue", "state"] as const,
    registers: [this.registry],
  });

  readonly webhooks = new Counter({
    name: "authbroker_webhook_deliveries_total",
    help: "Webhook delivery attempts by result",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });

  readonly proxyRequests = new Counter({
    name: "authbroker_proxy_requests_total",
    help: "Proxied calls by connector and the status the app got (499: the app went away; connector none: refused before an account was known)",
    labelNames: ["connector", "status"] as const,
    registers: [this.registry],
  });

  readonly proxyRateLimited = new Counter({
    name: "authbroker_proxy_rate_limited_total",
    help: "Proxied calls held by a connector's declared upstream rate limits (outcome waited: sent after a wait the app allowed; refused: answered 429), and upstream answers that asked for a hold (upstream_hold)",
    labelNames: ["connector", "outcome"] as const,
    registers: [this.registry],
  });

  /** Per connector: `proxyUpstreamDuration.series(connector.id)`, resolved once per connector file (proxy/connector-plan.ts). */
  readonly proxyUpstreamDuration = new SeriesHistogram(
    "authbroker_proxy_upstream_duration_seconds",
    "Time from sending a proxied request upstream to its response headers, per attempt",
    ["connector"],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    this.registry,
  );

  readonly proxyOverhead = new SeriesHistogram(
    "authbroker_proxy_overhead_seconds",
    "Time the broker adds to a proxied call before relaying the response (authentication, account lookup, on-demand refreshes), excluding upstream time",
    [],
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    this.registry,
  ).series();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: "authbroker_" });
  }
}
