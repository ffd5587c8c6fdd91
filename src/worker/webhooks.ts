/**
 * The webhook delivery job's processor: one attempt at POSTing a logged
 * delivery (jobs/account-events.ts) to its app's webhook URL, signed as
 * Standard Webhooks says (crypto/webhook-signature.ts), through the
 * SSRF-safe outbound client (the same address policy as every upstream
 * call; redirects are not followed). Any answer but 2xx, or no answer, is a
 * failed attempt: BullMQ retries it with exponential backoff
 * (WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_DELAY_MS), and the log row says how
 * each attempt went. The URL and secret are read at each attempt, so a
 * retry goes where the app's webhook is now.
 */
import { UnrecoverableError, type Job } from "bullmq";
import type { Services } from "../services.js";
import { checkWebhookUrl } from "../apps/webhook-url.js";
import { sealedField } from "../crypto/sealed-fields.js";
import { webhookHeaders } from "../crypto/webhook-signature.js";
import type { WebhookJobData } from "../jobs/queues.js";

/** How long the receiver may take to answer one attempt. */
const ATTEMPT_TIMEOUT_MS = 10_000;

/** The part of a receiver's failure the log keeps: a status or a short reason, never its body. */
async function attempt(services: Services, url: string, headers: Record<string, string>, body: string): Promise<{ status?: number; error?: string }> {
  try {
    const res = await services.outbound.fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "authbroker-webhooks", ...headers },
      body,
      signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
    });
    await res.body?.cancel().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return { status: res.status };
    return { status: res.status, error: `the receiver answered HTTP ${res.status}` };
  } catch (err) {
    const name = (err as Error).name;
    return { error: name === "TimeoutError" ? `no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s` : (err as Error).message.slice(0, 300) };
  }
}

export async function processWebhookJob(services: Services, job: Job<WebhookJobData>): Promise<string> {
  const { deliveryId } = job.data;
  const delivery = await services.db.webhookDelivery.findUnique({
    where: { id: deliveryId },
    include: { app: { select: { webhookUrl: true, sealedWebhookSecret: true } } },
  });
  // The app (and with it its log) was deleted meanwhile.
  if (!delivery) return "gone";
  if (!delivery.app.webhookUrl || !delivery.app.sealedWebhookSecret) {
    await services.db.webhookDelivery.update({ where: { id: deliveryId }, data: { status: "failed", lastError: "the app has no webhook URL" } });
    throw new UnrecoverableError("the app has no webhook URL");
  }
  // An app registered before the rules (apps/webhook-url.ts) may hold a URL they refuse: plain http to the internet.
  const problem = checkWebhookUrl(delivery.app.webhookUrl, services.config.allowPrivateHosts);
  if (problem) {
    await services.db.webhookDelivery.update({ where: { id: deliveryId }, data: { status: "failed", lastError: `webhook URL ${problem}` } });
    throw new UnrecoverableError("the app's webhook URL is refused");
  }
  const secret = services.keyring.open(delivery.app.sealedWebhookSecret, { rowId: delivery.appId, field: sealedField("app", "sealedWebhookSecret") });
  const now = new Date();
  const headers = webhookHeaders(secret, delivery.id, Math.floor(now.getTime() / 1000), delivery.body);
  const outcome = await attempt(services, delivery.app.webhookUrl, headers, delivery.body);
  const delivered = outcome.error === undefined;
  // The last attempt BullMQ will make of this job: a failure now is final.
  const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  await services.db.webhookDelivery.update({
    where: { id: deliveryId },
    data: {
      attempts: { increment: 1 },
      lastAttemptAt: now,
      lastResponseStatus: outcome.status ?? null,
      lastError: outcome.error ?? null,
      ...(delivered ? { status: "delivered", deliveredAt: now } : last ? { status: "failed" } : {}),
    },
  });
  services.metrics.webhooks.inc({ result: delivered ? "delivered" : outcome.status === undefined ? "error" : "rejected" });
  if (!delivered) throw new Error(`webhook delivery ${deliveryId}: ${outcome.error}`);
  return "delivered";
}
