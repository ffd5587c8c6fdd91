/**
 * The HTTP listener and its graceful shutdown: stop accepting, let in-flight
 * requests finish (up to a grace period), close idle keep-alive sockets.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { RequestListener } from "./direct-lane.js";
import { BrokerResponse } from "./response.js";

const CLIENT_ERRORS: Record<string, [status: number, reason: string, description: string]> = {
  HPE_HEADER_OVERFLOW: [431, "Request Header Fields Too Large", "the request line and headers are too large"],
  ERR_HTTP_REQUEST_TIMEOUT: [408, "Request Timeout", "the request did not arrive in time"],
};

/**
 * Requests Node's HTTP parser refuses before express sees them (headers
 * over 16 KiB, a malformed request line, a body without a length) get the
 * same JSON error as every other refusal instead of Node's bare status line.
 * As Node's own handler: nothing is written once a response on this
 * connection has started, and the connection is closed.
 */
function answerClientError(err: Error & { code?: string; rawPacket?: Buffer }, socket: Duplex): void {
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code !== "ECONNRESET" && socket.writable && !inFlight?.headersSent) {
    const [status, reason, description] = CLIENT_ERRORS[err.code ?? ""] ?? [400, "Bad Request", "the request is not valid HTTP/1.1"];
    // The answer to a HEAD has no body, or the client reads it as garbage after the response.
    const head = err.rawPacket?.subarray(0, 5).toString("latin1") === "HEAD ";
    const body = head ? "" : JSON.stringify({ error: "invalid_request", error_description: description });
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

export interface RunningServer {
  server: Server;
  url: string;
  close(graceMs: number): Promise<void>;
}

export async function listen(app: RequestListener, port: number, host: string): Promise<RunningServer> {
  // BrokerResponse: every answer carries its request id, written with its status line (response.ts).
  const server = createServer({ ServerResponse: BrokerResponse }, app);
  server.on("clientError", answerClientError);
  // An Expect other than 100-continue (RFC 9110 §10.1.1): 417, with a JSON body like every refusal.
  server.on("checkExpectation", (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(417, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", Connection: "close" });
    res.end(JSON.stringify({ error: "invalid_request", error_description: "the Expect header is not supported" }));
  });
  // Longer than common load balancer idle timeouts, so they close first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // The open connections, so a shutdown can tell the clients of the answers in
  // progress not to reuse them. Connections, not responses: a long-lived Set
  // that takes and drops an entry per request kept every request's objects
  // alive until the next full GC once its table had been promoted (V8 links a
  // rehashed table to its successor), ~1 MB more in the old generation per
  // young-generation GC under proxy load (docs/benchmarks.md).
  const connections = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    connections.add(socket);
    socket.once("close", () => connections.delete(socket));
  });
  const address = server.address();
  const boundPort = typeof address === "object" && address ? address.port : port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    server,
    url: `http://${shownHost}:${boundPort}`,
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        // Requests that arrive from now on are told not to reuse their connection too.
        server.on("request", (_req: IncomingMessage, res: ServerResponse) => res.setHeader("Connection", "close"));
        for (const socket of connections) {
          // The answer in progress on the connection (Node's own link from a socket to its response).
          const res = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
          if (res && !res.headersSent) res.setHeader("Connection", "close");
        }
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        // A kept-alive connection whose last answer went out is idle: close it
        // within moments rather than when the grace period runs out.
        const idle = setInterval(() => server.closeIdleConnections(), 50);
        server.close(() => {
          clearTimeout(force);
          clearInterval(idle);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
