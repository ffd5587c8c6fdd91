/**
 * Prometheus metrics (prom-client), one registry per process. Names follow
 * Prometheus conventions: `_total` counters, `_seconds` histograms.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { SeriesCounter, SeriesHistogram } from "./metric-series.js";

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

  /** Per connector and status: `proxyRequests.series(connector, status).inc()` (metric-series.ts). */
  readonly proxyRequests = new SeriesCounter(
    "authbroker_proxy_requests_total",
    "Proxied calls by connector and the status the app got (499: the app went away; connector none: refused before an account was known)",
    ["connector", "status"],
    this.registry,
  );

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
