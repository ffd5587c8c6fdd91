/**
 * Webhooks to apps: account events (`account.needs_reauth`…) POSTed as JSON
 * to the app's webhook URL through the SSRF-safe outbound client, signed
 * with HMAC-SHA256 over `<timestamp>.<body>` with the app's webhook secret:
 * header `Authbroker-Signature: t=<unix seconds>,v1=<hex>`. Apps check the
 * signature and refuse old timestamps (replay). Delivery retries through the
 * `webhooks` queue with exponential backoff. This is the delivery (the
 * worker's); events are enqueued by jobs/notify.ts.
 */
import { createHmac } from "node:crypto";
import type { Job } from "bullmq";
import type { Services } from "../services.js";
import { sealedField } from "../crypto/sealed-fields.js";
import type { WebhookJobData } from "../jobs/queues.js";

export const SIGNATURE_HEADER = "Authbroker-Signature";

export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

export async function processWebhookJob(services: Services, job: Job<WebhookJobData>): Promise<string> {
  const row = await services.db.app.findUnique({ where: { id: job.data.appId }, select: { webhookUrl: true, sealedWebhookSecret: true } });
  if (!row?.webhookUrl || !row.sealedWebhookSecret) return "no_webhook";
  const secret = services.keyring.open(row.sealedWebhookSecret, { rowId: job.data.appId, field: sealedField("app", "sealedWebhookSecret") });
  const body = JSON.stringify(job.data.event);
  const timestamp = Math.floor(Date.now() / 1000);
  let status: number;
  try {
    const res = await services.outbound.fetch(row.webhookUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "authbroker-webhooks",
        [SIGNATURE_HEADER]: signWebhook(secret, timestamp, body),
        "Authbroker-Event-Id": job.data.event.id,
      },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    status = res.status;
    await res.body?.cancel();
  } catch (err) {
    services.metrics.webhooks.inc({ result: "error" });
    throw err;
  }
  if (status < 200 || status >= 300) {
    services.metrics.webhooks.inc({ result: "rejected" });
    throw new Error(`webhook endpoint answered HTTP ${status}`);
  }
  services.metrics.webhooks.inc({ result: "delivered" });
  return "delivered";
}
