/**
 * The worker role's bootstrap: BullMQ consumers for the `refresh` and
 * `webhooks` queues, and the reconciler (refresh schedules, revocations,
 * lost webhook deliveries, unused dynamic registrations; at start, then periodically, one worker at a
 * time through a Redis lock). Any number of worker processes may
 * run; BullMQ hands each job to one of them.
 */
import { Worker, type ConnectionOptions } from "bullmq";
import type { Services } from "../services.js";
import { tryLock } from "../lock.js";
import { queueConnection, REFRESH_QUEUE, WEBHOOK_QUEUE, type RefreshJobData, type WebhookJobData } from "../jobs/queues.js";
import { processRefreshJob, upstreamBackoff } from "./refresh-processor.js";
import { processWebhookJob } from "./webhooks.js";
import { reconcileRefreshJobs } from "./reconciler.js";
import { restoreRevocations } from "../revocation/revocation.js";
import { removeExpiredGrants } from "./cleanup.js";
import { reapUnusedRegistrations } from "./reap-registrations.js";
import { enqueueLostDeliveries } from "../jobs/webhook-deliveries.js";

export { REFRESH_QUEUE };

export interface RunningWorker {
  /** Runs one reconciler pass now (tests, `authbroker accounts reconcile`). */
  reconcile(): Promise<void>;
  close(): Promise<void>;
}

export interface WorkerOptions {
  /** Time between reconciler passes. @defaultValue 5 minutes */
  reconcileEveryMs?: number;
  /** Ends a start still waiting for Redis: the start rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * `work`, or a rejection with the signal's reason once it aborts. BullMQ's
 * consumers wait for Redis as long as it takes (by design: a worker outlives
 * an outage), so a shutdown that comes while they wait would wait forever.
 */
function unlessAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

export async function startWorker(services: Services, options: WorkerOptions = {}): Promise<RunningWorker> {
  const { config, log } = services;
  const connection = queueConnection(config.redisUrl) as unknown as ConnectionOptions;
  const refreshWorker = new Worker<RefreshJobData>(REFRESH_QUEUE, (job, token) => processRefreshJob(services, job, token), {
    connection,
    prefix: config.queuePrefix,
    concurrency: config.workerConcurrency,
    // The job of a worker that died (SIGKILL, lost host) goes back to the queue once its lock lapses.
    lockDuration: config.workerJobLockMs,
    stalledInterval: config.workerJobLockMs,
    settings: { backoffStrategy: upstreamBackoff },
  });
  const webhookWorker = new Worker<WebhookJobData>(WEBHOOK_QUEUE, (job) => processWebhookJob(services, job), {
    connection,
    prefix: config.queuePrefix,
    concurrency: 4,
  });
  // One line per outage, not one per reconnect attempt of every connection.
  let lastConnectionError = "";
  for (const worker of [refreshWorker, webhookWorker]) {
    worker.on("error", (err) => {
      if (err.message === lastConnectionError) return;
      lastConnectionError = err.message;
      log.warn({ err: { message: err.message } }, "worker connection error");
    });
    worker.on("ready", () => (lastConnectionError = ""));
    worker.on("failed", (job, err) =>
      log.warn({ queue: worker.name, jobId: job?.id, attempts: job?.attemptsMade, err: { message: err.message } }, "job failed"),
    );
  }
  const reconcile = async () => {
    let lock: Awaited<ReturnType<typeof tryLock>> | undefined;
    try {
      // One reconciler at a time across workers; a pass takes well under the lock's life.
      lock = await tryLock(services.redis, `${config.queuePrefix}:lock:reconciler`, 120_000);
      if (!lock) return;
      const result = await reconcileRefreshJobs(services);
      await restoreRevocations(services);
      const requeued = await enqueueLostDeliveries(services);
      if (requeued > 0) log.info({ requeued }, "enqueued webhook deliveries whose job was lost");
      const removed = await removeExpiredGrants(services);
      if (removed.codes + removed.deviceCodes + removed.refreshTokens + removed.revokedClients > 0)
        log.info(removed, "removed expired codes, refresh tokens and client revocations");
      const reaped = await reapUnusedRegistrations(services);
      if (reaped > 0) log.info({ reaped }, "deleted dynamic registrations that were never used");
      if (result.scheduled > 0) log.info(result, "reconciler scheduled missing refresh jobs");
    } catch (err) {
      log.warn({ err: { message: (err as Error).message } }, "reconciler pass failed");
    } finally {
      await lock?.release().catch(() => undefined);
    }
  };
  try {
    await unlessAborted(Promise.all([refreshWorker.waitUntilReady(), webhookWorker.waitUntilReady()]), options.signal);
    await reconcile();
  } catch (err) {
    // The consumers already take jobs: a start that fails must stop them, or
    // they would run on with the services' connections closed under them.
    // Their connection goes first: closing waits on Redis, which may be the reason the start failed.
    (connection as unknown as { disconnect(): void }).disconnect();
    await Promise.allSettled([refreshWorker.close(true), webhookWorker.close(true)]);
    throw err;
  }
  const timer = setInterval(() => void reconcile(), options.reconcileEveryMs ?? 5 * 60_000);
  timer.unref();
  // A Redis that comes back may have lost every schedule (a restart without
  // persistence, a failover): rebuild them at once, not at the next periodic pass.
  let redisLost = false;
  const noteRedisLost = () => {
    redisLost = true;
  };
  const reconcileAfterOutage = () => {
    if (!redisLost) return;
    redisLost = false;
    log.info("redis is back: reconciling refresh schedules");
    void reconcile();
  };
  services.redis.on("close", noteRedisLost);
  services.redis.on("ready", reconcileAfterOutage);
  log.info({ queues: [REFRESH_QUEUE, WEBHOOK_QUEUE], concurrency: config.workerConcurrency }, "worker started");

  return {
    reconcile,
    close: async () => {
      clearInterval(timer);
      services.redis.off("close", noteRedisLost);
      services.redis.off("ready", reconcileAfterOutage);
      // close() waits for active jobs to finish, so a refresh in flight is never cut in half.
      await Promise.all([refreshWorker.close(), webhookWorker.close()]);
      (connection as unknown as { disconnect(): void }).disconnect();
      log.info("worker stopped");
    },
  };
}
