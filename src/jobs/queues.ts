/**
 * The producer side of the broker's queues: scheduling refresh jobs and
 * enqueuing webhooks. Every `serve` and `worker` process has one; the
 * consumers live in worker/refresh-processor.ts and worker/webhooks.ts.
 *
 * Each account with expiring credentials has exactly one refresh job, id
 * `refresh-<accountId>`, delayed to `expiresAt − margin − jitter`. (Not
 * `refresh:<accountId>`: BullMQ 6 refuses ":" in custom job ids, as it
 * separates the parts of its Redis keys.)
 */
import { Queue, type ConnectionOptions } from "bullmq";
import { Redis } from "ioredis";

export const REFRESH_QUEUE = "refresh";
export const WEBHOOK_QUEUE = "webhooks";

export function refreshJobId(accountId: string): string {
  return `refresh-${accountId}`;
}

export interface RefreshJobData {
  accountId: string;
  /** When the job was planned to run (ms since epoch), for the scheduling-lag metric. */
  plannedAt: number;
}

/** A delivery of the webhook log (jobs/account-events.ts): the row holds the message, the job only names it. */
export interface WebhookJobData {
  deliveryId: string;
}

/** The job of a delivery's first sending is named after it; each redelivery is a job of its own (BullMQ keeps finished ids). */
export function webhookJobId(deliveryId: string, redelivery = 0): string {
  return redelivery === 0 ? deliveryId : `${deliveryId}-r${redelivery}`;
}

export interface WebhookRetryOptions {
  /** Attempts of one delivery before it is `failed` (WEBHOOK_MAX_ATTEMPTS). @defaultValue 10 */
  attempts: number;
  /** The first retry's delay; each next one doubles (WEBHOOK_RETRY_DELAY_MS). @defaultValue 5 000 ms */
  delayMs: number;
}

/**
 * When to refresh: `margin` before expiry, minus a jitter of up to 10 % of
 * the remaining lifetime (at most 60 s) so accounts connected together do
 * not all refresh in the same second.
 */
export function plannedRefreshTime(expiresAt: Date, marginSeconds: number, now = Date.now(), random = Math.random): number {
  const target = expiresAt.getTime() - marginSeconds * 1000;
  const lifetime = Math.max(0, target - now);
  const jitter = Math.floor(random() * Math.min(60_000, lifetime * 0.1));
  return Math.max(now, target - jitter);
}

/** BullMQ's largest job priority (lower numbers run first; 0 is "none"). */
const MAX_PRIORITY = 2_097_152;

/**
 * The BullMQ priority of a refresh that is overdue when scheduled (planned
 * at or before `now`: a herd after Redis lost its schedules, a batch of
 * connects, a worker back from an outage): the seconds left before its
 * credentials expire, so a herd due at once runs soonest expiry first
 * instead of in the order it was scheduled. An on-time job has none: it
 * leaves the delayed set when due, and BullMQ runs jobs without a priority
 * before prioritized ones — a steady trickle whose expiry is still about a
 * margin away. Undefined: no priority.
 */
export function overduePriority(expiresAt: Date, plannedAt: number, now = Date.now()): number | undefined {
  if (plannedAt > now) return undefined;
  return Math.min(MAX_PRIORITY, Math.max(1, Math.ceil((expiresAt.getTime() - now) / 1000)));
}

export function queueConnection(redisUrl: string): Redis {
  // BullMQ needs commands to wait for a reconnect rather than fail (maxRetriesPerRequest: null).
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null, enableOfflineQueue: true, retryStrategy: (n) => Math.min(n * 200, 2_000) });
  connection.on("error", () => undefined);
  return connection;
}

/**
 * A BullMQ queue re-emits its connection's errors, and with no listener
 * prints each one to stderr: every reconnect attempt while Redis is down
 * (found by test/integration/main/faults-redis.test.ts). The outage is already
 * reported once by the services' Redis client and by /readyz, and every
 * enqueue that fails throws to its caller.
 */
function quiet<T>(queue: Queue<T>): Queue<T> {
  queue.on("error", () => undefined);
  return queue;
}

export class Queues {
  private connection: Redis | undefined;
  private refreshQueue: Queue<RefreshJobData> | undefined;
  private webhookQueue: Queue<WebhookJobData> | undefined;

  constructor(
    private readonly redisUrl: string,
    readonly prefix: string,
    private readonly webhookRetry: WebhookRetryOptions = { attempts: 10, delayMs: 5_000 },
  ) {}

  private conn(): ConnectionOptions {
    this.connection ??= queueConnection(this.redisUrl);
    return this.connection as unknown as ConnectionOptions;
  }

  get refresh(): Queue<RefreshJobData> {
    this.refreshQueue ??= quiet(
      new Queue<RefreshJobData>(REFRESH_QUEUE, {
        connection: this.conn(),
        prefix: this.prefix,
        defaultJobOptions: { removeOnComplete: true, removeOnFail: 1000, attempts: 8, backoff: { type: "upstream" } },
      }),
    );
    return this.refreshQueue;
  }

  get webhooks(): Queue<WebhookJobData> {
    this.webhookQueue ??= quiet(
      new Queue<WebhookJobData>(WEBHOOK_QUEUE, {
        connection: this.conn(),
        prefix: this.prefix,
        defaultJobOptions: {
          removeOnComplete: 1000,
          removeOnFail: 5000,
          attempts: this.webhookRetry.attempts,
          backoff: { type: "exponential", delay: this.webhookRetry.delayMs },
        },
      }),
    );
    return this.webhookQueue;
  }

  /**
   * (Re)schedules an account's refresh job. A delayed job is moved; a job
   * being processed right now is left alone (its processor reschedules from
   * the credentials it ends with); a finished or missing one is replaced.
   */
  async scheduleRefresh(accountId: string, expiresAt: Date | undefined | null, marginSeconds: number): Promise<void> {
    const id = refreshJobId(accountId);
    if (!expiresAt) {
      await this.cancelRefresh(accountId);
      return;
    }
    const now = Date.now();
    const at = plannedRefreshTime(expiresAt, marginSeconds, now);
    const existing = await this.refresh.getJob(id);
    if (existing) {
      const state = await existing.getState();
      if (state === "active") return;
      if (state === "delayed") {
        await existing.changeDelay(Math.max(0, at - Date.now())).catch(() => undefined);
        await existing.updateData({ accountId, plannedAt: at });
        return;
      }
      await existing.remove().catch(() => undefined);
    }
    const priority = overduePriority(expiresAt, at, now);
    await this.refresh.add("refresh", { accountId, plannedAt: at }, { jobId: id, delay: Math.max(0, at - now), ...(priority ? { priority } : {}) });
  }

  async cancelRefresh(accountId: string): Promise<void> {
    const job = await this.refresh.getJob(refreshJobId(accountId));
    if (job && (await job.getState()) !== "active") await job.remove().catch(() => undefined);
  }

  /** Enqueues a delivery (again, for a redelivery); an id already queued is left as it is. */
  async enqueueWebhook(deliveryId: string, redelivery = 0): Promise<void> {
    await this.webhooks.add("deliver", { deliveryId }, { jobId: webhookJobId(deliveryId, redelivery) });
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.refreshQueue?.close(), this.webhookQueue?.close()]);
    this.connection?.disconnect();
  }
}
