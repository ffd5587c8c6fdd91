/**
 * What a proxied call needs of its connector that is the same on every call:
 * the credential style, whether its kind can refresh, and its metric series.
 * Made once per connector configuration instead of on every call (the proxy
 * is the broker's hottest path, docs/proxy.md); a connector file that is
 * loaded again is a new object and gets a new plan, and a plan goes with
 * the configuration it was made for (WeakMap).
 */
import { isStaticCredentialChecker, refreshesFor } from "../connectors/kinds/types.js";
import type { ConnectorConfig } from "../connectors/schema.js";
import { isPerServer } from "../connectors/template.js";
import { hasValues } from "../connectors/kinds/upstream-values.js";
import type { Services } from "../services.js";
import { credentialStyle, type CredentialStyle, type FieldList } from "../connectors/credential-styles.js";
import { rateRules, type RateRules } from "./rate-limit.js";
import type { CounterSeries } from "../metric-series.js";

export interface ConnectorPlan {
  connectorId: string;
  style: CredentialStyle;
  /** Whether `api.baseUrl` is filled per account (`{hostname}`, `{values.…}`); the others' base is used as written. */
  templatedBase: boolean;
  /** Whether the connector's kind refreshes credentials (401 → refresh → retry, refresh before an expired call). */
  canRefresh: boolean;
  /** Time to the upstream's response headers, per attempt (seconds). */
  observeUpstream(seconds: number): void;
  /** Counts a finished call with the status the app got. */
  countCall(status: number): void;
  /** The connector's declared upstream rate limits; undefined when it declares none (then Redis is never asked). */
  rateRules: RateRules | undefined;
  /** Counts a call held by the rate limits, or an upstream answer that asked for a hold. */
  countRateLimited(outcome: "waited" | "refused" | "upstream_hold"): void;
}

const plans = new WeakMap<ConnectorConfig, ConnectorPlan>();

export function connectorPlan(services: Pick<Services, "kinds" | "metrics" | "config">, connector: ConnectorConfig): ConnectorPlan {
  let plan = plans.get(connector);
  if (!plan) {
    plan = makePlan(services, connector);
    plans.set(connector, plan);
  }
  return plan;
}

function makePlan(services: Pick<Services, "kinds" | "metrics" | "config">, connector: ConnectorConfig): ConnectorPlan {
  const kind = services.kinds.get(connector.auth.kind);
  // The values the end user typed that the account keeps (basic, api_key), as the kind declares them; none for a kind that keeps tokens.
  const fields: FieldList = kind !== undefined && isStaticCredentialChecker(kind) ? kind.credentialFields(connector) : [];
  // Label series resolved once: prom-client hashes the labels of every observe and inc (metrics.ts).
  const upstream = services.metrics.proxyUpstreamDuration.series(connector.id);
  const counters = new Map<number, CounterSeries>();
  const limited = services.metrics.proxyRateLimited;
  return {
    connectorId: connector.id,
    style: credentialStyle(connector, fields),
    templatedBase: isPerServer(connector) || hasValues(connector),
    canRefresh: kind !== undefined && refreshesFor(kind, connector),
    observeUpstream: (seconds) => upstream.observe(seconds),
    countCall(status) {
      let counter = counters.get(status);
      if (!counter) {
        counter = services.metrics.proxyRequests.series(connector.id, String(status));
        counters.set(status, counter);
      }
      counter.inc();
    },
    rateRules: rateRules(services.config.queuePrefix, connector.id, connector.api?.rateLimits ?? []),
    countRateLimited: (outcome) => limited.inc({ connector: connector.id, outcome }),
  };
}
