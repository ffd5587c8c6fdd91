/**
 * The refresh job's processor: a plain function of (services, job, token),
 * testable with real Redis and Postgres around it. It refreshes through the
 * one single-flight path, then moves the same job to its next planned time
 * (so each account keeps exactly one job), or ends it when there is nothing
 * left to refresh.
 *
 * Credentials that expire with nothing to refresh them (no refresh token)
 * end the job with an `account.expiring` event, once per set of credentials.
 *
 * Failures: `invalid_grant` is unrecoverable (the account is needs_reauth and
 * the app was notified); anything else throws an ordinary error, and BullMQ
 * retries with the `upstream` backoff (exponential, jittered, honouring
 * Retry-After).
 */
import { DelayedError, UnrecoverableError, type Job } from "bullmq";
import type { Services } from "../services.js";
import { AccountNeedsReauth, refreshAccount } from "../accounts/refresh.js";
import { readRefreshState } from "../accounts/vault.js";
import { BrokerError } from "../errors.js";
import { plannedRefreshTime, type RefreshJobData } from "../jobs/queues.js";
import { emitAccountEvent } from "../jobs/account-events.js";

/** Per-connector rate limit: a fixed one-second window counter shared by every worker through Redis. */
async function takeRateSlot(services: Services, connectorId: string): Promise<boolean> {
  const key = `${services.config.queuePrefix}:ratelimit:refresh:${connectorId}:${Math.floor(Date.now() / 1000)}`;
  const used = await services.redis.incr(key);
  if (used === 1) await services.redis.expire(key, 2);
  return used <= services.config.refreshRatePerConnector;
}

export async function processRefreshJob(services: Services, job: Job<RefreshJobData>, token?: string): Promise<string> {
  const { accountId, plannedAt } = job.data;
  // The account and its credentials in one read, handed to the refresh path so it does not read them again.
  const state = await readRefreshState(services.db, services.keyring, accountId);
  if (!state || state.account.status !== "active") return "skipped";
  const connector = services.connectors.get(state.account.connectorId);
  if (!connector) return "skipped";

  if (!(await takeRateSlot(services, connector.id))) {
    services.metrics.refreshes.inc({ connector: connector.id, result: "rate_limited" });
    // Over the connector's rate: try again shortly, spread over the next seconds.
    await job.moveToDelayed(Date.now() + 1_000 + Math.floor(Math.random() * 2_000), token);
    throw new DelayedError();
  }

  // Observed once per planned run, when its refresh really starts: a run put back by the rate
  // limit above is not counted at each try (that skewed the figure towards zero).
  if (job.attemptsMade === 0 && plannedAt) services.metrics.refreshLag.observe(Math.max(0, Date.now() - plannedAt) / 1000);
  const margin = connector.refresh.marginSeconds;
  const stopTimer = services.metrics.refreshDuration.startTimer({ connector: connector.id });
  let result;
  try {
    // `schedule: false`: this job is the account's schedule, and moves itself below.
    result = await refreshAccount(services, accountId, { requestId: `job:${job.id}`, state, schedule: false });
  } catch (err) {
    const outcome = err instanceof AccountNeedsReauth ? "needs_reauth" : "failed";
    services.metrics.refreshes.inc({ connector: connector.id, result: outcome });
    if (err instanceof AccountNeedsReauth) throw new UnrecoverableError(err.description);
    throw err;
  } finally {
    stopTimer();
  }
  services.metrics.refreshes.inc({ connector: connector.id, result: result.outcome });

  const expiresAt = result.credentials.expiresAt;
  if (expiresAt && result.outcome === "not_refreshable") {
    // The job runs a margin before expiry, and nothing can renew these credentials: the app hears it once per set.
    await emitAccountEvent(
      services,
      {
        type: "account.expiring",
        accountId,
        actorType: "system",
        requestId: `job:${job.id}`,
        detail: { expires_at: expiresAt.toISOString() },
        onceKey: String(result.credentials.version),
      },
      services.log,
    );
  }
  if (!expiresAt || result.outcome === "not_refreshable") return result.outcome;
  const next = plannedRefreshTime(expiresAt, margin);
  await job.updateData({ accountId, plannedAt: next });
  // A job that ran overdue had a priority (queues.ts overduePriority); its next run is on time.
  if (job.priority) await job.changePriority({ priority: 0 });
  await job.moveToDelayed(next, token);
  throw new DelayedError();
}

/**
 * BullMQ backoff for refresh jobs: exponential from 5 s with full jitter,
 * capped at 15 min; an upstream's Retry-After (seconds) wins when longer.
 */
export function upstreamBackoff(attemptsMade: number, _type?: string, err?: Error): number {
  const base = Math.min(15 * 60_000, 5_000 * 2 ** Math.max(0, attemptsMade - 1));
  const jittered = Math.floor(base / 2 + Math.random() * (base / 2));
  const retryAfter = err instanceof BrokerError ? Number(err.headers["Retry-After"]) : NaN;
  return Number.isFinite(retryAfter) && retryAfter * 1000 > jittered ? retryAfter * 1000 : jittered;
}
