/**
 * Telling an app about one of its accounts (`account.needs_reauth`…): the
 * event is enqueued on the `webhooks` queue, and the worker delivers it,
 * signed (worker/webhooks.ts). Apps without a webhook URL are told nothing.
 */
import { randomUUID } from "node:crypto";
import type { Services } from "../services.js";

/** Enqueues an event for the app, if it has a webhook URL. */
export async function notifyApp(
  services: Pick<Services, "clients" | "queues">,
  appId: string,
  type: string,
  data: Record<string, string | null>,
): Promise<void> {
  const app = await services.clients.find(appId);
  if (!app?.webhookUrl) return;
  await services.queues.enqueueWebhook({ appId, event: { id: `evt_${randomUUID()}`, type, created_at: new Date().toISOString(), data } });
}
