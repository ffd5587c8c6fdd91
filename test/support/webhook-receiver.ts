/**
 * An app's webhook endpoint for tests: a local HTTP server on 127.0.0.1
 * that keeps every request (headers, raw body, arrival time) and answers
 * 204, or the statuses it was told to answer first (`failNext`).
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import { once } from "node:events";

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  /** The status this request was answered with. */
  status: number;
}

export interface WebhookReceiver {
  url: string;
  readonly received: ReceivedWebhook[];
  /** The next `count` requests are answered `status` (then 204 again). */
  failNext(count: number, status?: number): void;
  /** Every request is answered `status` until `failNext(0)`. */
  failAlways(status?: number): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  let failures = 0;
  let failStatus = 500;
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      const status = failures > 0 ? failStatus : 204;
      if (failures > 0) failures--;
      received.push({ headers: req.headers, body, at: Date.now(), status });
      res.writeHead(status).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    failNext(count, status = 500) {
      failures = count;
      failStatus = status;
    },
    failAlways(status = 500) {
      failures = Number.POSITIVE_INFINITY;
      failStatus = status;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
