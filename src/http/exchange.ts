/**
 * One request as every route sees it, whichever lane answers it: the
 * broker's request id (`X-Request-Id`), a logger whose lines carry the
 * request, and one line when the answer is done — "request completed" with
 * its status and time (`error` for 5xx, `info` otherwise), or "request
 * aborted" when the connection closed first. The request as logged: its
 * id, method, URL with secret parameters masked, the client's address, and
 * the caller's own `X-Request-Id` when it is well formed (request-id.ts).
 * Never a header: they carry Authorization and cookies.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { redactUrl, type Logger } from "../log.js";
import { clientAddress } from "./client-address.js";
import { clientRequestIdOf, newRequestId } from "./request-id.js";
import { tagWithRequestId } from "./response.js";
import type { Exchange } from "./route.js";

export class RequestExchange<C = unknown> implements Exchange<C> {
  readonly requestId: string;
  readonly startedAt = process.hrtime.bigint();
  params: Readonly<Record<string, string>> = {};
  rest = "/";
  caller = undefined as C;
  private requestLog: Logger | undefined;
  /** Read at once: the socket is gone from `req` once the connection closes, before the completion line is written. */
  private readonly remoteAddress: string | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    private readonly rootLog: Logger,
    trustProxyHops: number,
  ) {
    this.requestId = newRequestId();
    tagWithRequestId(res, this.requestId);
    this.remoteAddress = clientAddress(req, trustProxyHops);
  }

  /** The request as its log lines show it. */
  serialized(): Record<string, unknown> {
    return {
      id: this.requestId,
      method: this.req.method,
      url: redactUrl(this.req.url ?? "/"),
      remoteAddress: this.remoteAddress,
      clientRequestId: clientRequestIdOf(this.req),
    };
  }

  /** Made on first use: most requests log nothing but their completion line. */
  get log(): Logger {
    this.requestLog ??= this.rootLog.child({ req: this.serialized() });
    return this.requestLog;
  }

  /** Writes the completion line when the connection is done with this answer (sent, or cut). */
  logCompletion(): void {
    const startedAt = Date.now();
    this.res.once("close", () => {
      const responseTime = Date.now() - startedAt;
      if (!this.res.writableFinished) {
        if (this.rootLog.isLevelEnabled("info")) this.rootLog.info({ req: this.serialized(), responseTime }, "request aborted");
        return;
      }
      const status = this.res.statusCode;
      const level = status >= 500 ? "error" : "info";
      if (this.rootLog.isLevelEnabled(level)) this.rootLog[level]({ req: this.serialized(), res: { statusCode: status }, responseTime }, "request completed");
    });
  }
}
