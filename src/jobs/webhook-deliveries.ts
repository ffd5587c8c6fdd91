/**
 * The webhook delivery log, read and acted on: listing (admin API,
 * `authbroker webhooks deliveries`), redelivery (`… redeliver`), and the
 * reconciler's pass that enqueues deliveries whose job never reached Redis.
 * The rows are written by jobs/account-events.ts and updated by each attempt
 * (worker/webhooks.ts). Nothing here is a secret: the payload holds ids.
 */
import type { Db } from "../db.js";
import { Conflict, NotFound } from "../errors.js";
import type { Services } from "../services.js";
import { webhookJobId } from "./queues.js";

export const DELIVERY_STATUSES = ["pending", "delivered", "failed"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

type DeliveryRow = NonNullable<Awaited<ReturnType<Db["webhookDelivery"]["findUnique"]>>>;

export interface DeliveryView {
  id: string;
  client_id: string;
  event_type: string;
  account_id: string | null;
  status: DeliveryStatus;
  attempts: number;
  redeliveries: number;
  last_attempt_at: string | null;
  last_response_status: number | null;
  last_error: string | null;
  delivered_at: string | null;
  created_at: string;
  /** The message as sent. */
  payload: unknown;
}

export function deliveryView(row: DeliveryRow): DeliveryView {
  return {
    id: row.id,
    client_id: row.appId,
    event_type: row.eventType,
    account_id: row.accountId,
    status: row.status,
    attempts: row.attempts,
    redeliveries: row.redeliveries,
    last_attempt_at: row.lastAttemptAt?.toISOString() ?? null,
    last_response_status: row.lastResponseStatus,
    last_error: row.lastError,
    delivered_at: row.deliveredAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
    payload: JSON.parse(row.body) as unknown,
  };
}

export interface DeliveryFilter {
  appId?: string;
  status?: DeliveryStatus;
  eventType?: string;
  limit: number;
  /** The last id of the previous page. */
  cursor?: string;
}

/** Deliveries, newest first, paged by `next_cursor`. */
export async function listDeliveries(db: Db, filter: DeliveryFilter): Promise<{ data: DeliveryView[]; next_cursor: string | null }> {
  const after = filter.cursor ? await db.webhookDelivery.findUnique({ where: { id: filter.cursor }, select: { createdAt: true, id: true } }) : undefined;
  if (filter.cursor && !after) throw new NotFound(`no delivery ${filter.cursor} to continue after`);
  const rows = await db.webhookDelivery.findMany({
    where: {
      ...(filter.appId ? { appId: filter.appId } : {}),
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.eventType ? { eventType: filter.eventType } : {}),
      ...(after ? { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] } : {}),
    },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: filter.limit + 1,
  });
  const data = rows.slice(0, filter.limit).map(deliveryView);
  return { data, next_cursor: rows.length > filter.limit ? data[data.length - 1]!.id : null };
}

export async function getDelivery(db: Db, id: string): Promise<DeliveryView> {
  const row = await db.webhookDelivery.findUnique({ where: { id } });
  if (!row) throw new NotFound(`no webhook delivery ${id}`);
  return deliveryView(row);
}

/**
 * Sends a delivery again, with the same `webhook-id` (Standard Webhooks:
 * the receiver deduplicates on it), a new timestamp and signature, and a
 * new round of retries. A delivery still being attempted is refused: it
 * would be sent twice at once.
 */
export async function redeliver(services: Pick<Services, "db" | "queues">, id: string): Promise<DeliveryView> {
  const row = await services.db.webhookDelivery.findUnique({ where: { id }, include: { app: { select: { webhookUrl: true } } } });
  if (!row) throw new NotFound(`no webhook delivery ${id}`);
  if (!row.app.webhookUrl) throw new Conflict(`app ${row.appId} has no webhook URL any more`);
  // The compare-and-set on the status: of two redeliveries at once, one wins.
  const { count } = await services.db.webhookDelivery.updateMany({
    where: { id, status: { not: "pending" } },
    data: { status: "pending", redeliveries: { increment: 1 }, deliveredAt: null },
  });
  if (count === 0) throw new Conflict(`webhook delivery ${id} is still being attempted; redeliver it once it is delivered or failed`);
  const updated = await services.db.webhookDelivery.findUniqueOrThrow({ where: { id } });
  await services.queues.enqueueWebhook(id, updated.redeliveries);
  return deliveryView(updated);
}

/** A pending delivery older than this with no job is taken as lost (its enqueue failed, or Redis lost it). */
const LOST_AFTER_MS = 60_000;
const BATCH = 500;

/**
 * Enqueues the pending deliveries whose job is missing from Redis. One
 * whose job exists (waiting, retrying, running) is left alone; BullMQ
 * would not add its id twice anyway.
 */
export async function enqueueLostDeliveries(services: Pick<Services, "db" | "queues">, now = Date.now()): Promise<number> {
  const pending = await services.db.webhookDelivery.findMany({
    where: { status: "pending", updatedAt: { lt: new Date(now - LOST_AFTER_MS) } },
    select: { id: true, redeliveries: true },
    orderBy: { createdAt: "asc" },
    take: BATCH,
  });
  let enqueued = 0;
  for (const delivery of pending) {
    const job = await services.queues.webhooks.getJob(webhookJobId(delivery.id, delivery.redeliveries));
    if (job) {
      // Its last attempt failed but the log could not say so: say it now, so it can be redelivered.
      if (await job.isFailed()) await services.db.webhookDelivery.updateMany({ where: { id: delivery.id, status: "pending" }, data: { status: "failed" } });
      continue;
    }
    await services.queues.enqueueWebhook(delivery.id, delivery.redeliveries);
    enqueued++;
  }
  return enqueued;
}
