/**
 * The worker role: BullMQ consumers. For now it only holds a connection to
 * Redis and the `refresh` queue's consumer; the refresh processor, the
 * reconciler and webhooks arrive with the refresh issue.
 */
import { Worker } from "bullmq";
import type { Services } from "../services.js";

export const REFRESH_QUEUE = "refresh";

export interface RunningWorker {
  close(): Promise<void>;
}

export async function startWorker(services: Services): Promise<RunningWorker> {
  const worker = new Worker(
    REFRESH_QUEUE,
    async () => {
      /* the refresh processor lands with the refresh-worker issue */
    },
    { connection: { url: services.config.redisUrl, maxRetriesPerRequest: null }, autorun: true, concurrency: 1 },
  );
  worker.on("error", (err) => services.log.warn({ err: { message: err.message } }, "worker connection error"));
  await worker.waitUntilReady();
  services.log.info({ queue: REFRESH_QUEUE }, "worker started");
  return {
    close: async () => {
      await worker.close();
      services.log.info("worker stopped");
    },
  };
}
