/**
 * Account events, the one place they are made: each is an audit row and,
 * for an app with a webhook URL, a row of the webhook delivery log whose job
 * on the `webhooks` queue the worker delivers (worker/webhooks.ts). Where
 * the change it reports is written in a transaction, the event is written in
 * the same one (`recordAccountEvent`), so an event is never lost to a crash
 * between the change and its message: a delivery whose job never reached
 * Redis is enqueued by the reconciler (`enqueueLostDeliveries`).
 *
 * The payload is Standard Webhooks' shape: `{ type, timestamp, data }`.
 */
import type { Prisma } from "../generated/prisma/client.js";
import type { Db } from "../db.js";
import { recordAudit, type AuditEventInput } from "../audit.js";
import { generateId } from "../crypto/secrets.js";
import type { Logger } from "../log.js";
import type { Services } from "../services.js";

export const ACCOUNT_EVENT_TYPES = [
  /** An end user connected an account for the first time. */
  "account.connected",
  /** An end user connected the same upstream account again (the account is `active` again). */
  "account.reconnected",
  /** The upstream refused the refresh token (`invalid_grant`): the end user must connect again. */
  "account.needs_reauth",
  /** A refresh succeeded after failed ones: the account works again. */
  "account.recovered",
  /** The credentials expire soon and nothing can refresh them (no refresh token). */
  "account.expiring",
  /** The upstream refused the account's credentials (401) and there was nothing newer to try. */
  "account.revoked_upstream",
  /** The account was deleted (accounts API, admin API, CLI). */
  "account.deleted",
] as const;
export type AccountEventType = (typeof ACCOUNT_EVENT_TYPES)[number];

export interface AccountEventInput {
  type: AccountEventType;
  accountId: string;
  actorType: AuditEventInput["actorType"];
  actorId?: string;
  requestId?: string;
  /** Fields of the event's own (a reason, an expiry), in its `data` and its audit row. Ids and reasons only, never a secret. */
  detail?: Record<string, string | number | boolean | null>;
}

/** A delivery written with its event: its job is enqueued once the transaction committed. */
export interface PendingDelivery {
  id: string;
}

type Writer = Pick<Db, "account" | "auditEvent" | "webhookDelivery"> | Prisma.TransactionClient;

/** A delivery log id, which is also the message's `webhook-id`. */
function newMessageId(): string {
  return generateId("msg", 16);
}

/**
 * Writes the event (audit row, and the delivery of an app with a webhook
 * URL) with `db`, a transaction when the caller has one. Call it before an
 * account row is deleted: the event reads the account. Returns the delivery
 * to enqueue (`enqueueDeliveries`), if any.
 */
export async function recordAccountEvent(db: Writer, event: AccountEventInput): Promise<PendingDelivery | undefined> {
  const account = await db.account.findUnique({
    where: { id: event.accountId },
    select: { appId: true, connectorId: true, hostname: true, upstreamSubject: true, app: { select: { webhookUrl: true } } },
  });
  if (!account) return undefined;
  await recordAudit(db, {
    action: event.type,
    actorType: event.actorType,
    actorId: event.actorId,
    appId: account.appId,
    accountId: event.accountId,
    connectorId: account.connectorId,
    requestId: event.requestId,
    detail: event.detail,
  });
  if (!account.app.webhookUrl) return undefined;
  const payload = {
    type: event.type,
    timestamp: new Date().toISOString(),
    data: {
      account_id: event.accountId,
      client_id: account.appId,
      connector: account.connectorId,
      hostname: account.hostname || null,
      upstream_subject: account.upstreamSubject,
      ...event.detail,
    },
  };
  const id = newMessageId();
  await db.webhookDelivery.create({ data: { id, appId: account.appId, eventType: event.type, accountId: event.accountId, body: JSON.stringify(payload) } });
  return { id };
}

/** Enqueues the deliveries of committed events. A failure is logged, not thrown: the reconciler enqueues what is left pending. */
export async function enqueueDeliveries(services: Pick<Services, "queues">, deliveries: (PendingDelivery | undefined)[], log: Logger): Promise<void> {
  for (const delivery of deliveries) {
    if (!delivery) continue;
    await services.queues
      .enqueueWebhook(delivery.id)
      .catch((err: Error) => log.warn({ deliveryId: delivery.id, err: { message: err.message } }, "could not enqueue a webhook delivery; the reconciler will"));
  }
}

/** How long an event sent once per key is remembered (Redis). */
const ONCE_FOR_SECONDS = 30 * 24 * 3600;

/**
 * Makes an event that is no change of a row (recovered, expiring, revoked
 * upstream) and enqueues its delivery. With `onceKey`, the event is made
 * once per account and key (the expiry of one set of credentials is
 * reported once, whoever notices it and however often). Never throws: the
 * caller's own work goes on.
 */
export async function emitAccountEvent(
  services: Pick<Services, "db" | "redis" | "queues" | "config">,
  event: AccountEventInput & { onceKey?: string },
  log: Logger,
): Promise<void> {
  const onceKey = event.onceKey && `${services.config.queuePrefix}:account-event-once:${event.accountId}:${event.type}:${event.onceKey}`;
  try {
    if (onceKey && (await services.redis.set(onceKey, "1", "EX", ONCE_FOR_SECONDS, "NX")) !== "OK") return;
    const delivery = await recordAccountEvent(services.db, event);
    await enqueueDeliveries(services, [delivery], log);
  } catch (err) {
    log.warn({ accountId: event.accountId, event: event.type, err: { message: (err as Error).message } }, "could not record an account event");
    // Not recorded: whoever notices the same state next may try again.
    if (onceKey) await services.redis.del(onceKey).catch(() => undefined);
  }
}
