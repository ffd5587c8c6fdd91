/**
 * The broker's responses (`http.createServer`'s `ServerResponse` option,
 * server.ts): each carries its request's id, `X-Request-Id`, written with
 * the status line.
 *
 * Why not `setHeader` when the request arrives: a header set that way sends
 * every later `writeHead(status, headers)` down Node's slow path, which
 * stores the headers one by one through `setHeader` again. The proxy
 * relays the upstream's headers with `writeHead`, so that was a validation,
 * a lower-casing and an array per relayed header on every call
 * (docs/benchmarks.md). Here the id is set just before the status line,
 * unless the headers `writeHead` is given carry it already (the proxy's
 * relay puts it among the upstream's): then nothing is stored one by one.
 */
import { ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders } from "node:http";

export class BrokerResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  /** Set by the request's exchange (exchange.ts); undefined for an answer written before one exists. */
  requestId: string | undefined;

  override writeHead(statusCode: number, statusMessage?: string, headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this;
  override writeHead(statusCode: number, headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this;
  override writeHead(
    statusCode: number,
    messageOrHeaders?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
    maybeHeaders?: OutgoingHttpHeaders | OutgoingHttpHeader[],
  ): this {
    const message = typeof messageOrHeaders === "string" ? messageOrHeaders : undefined;
    const headers = typeof messageOrHeaders === "string" ? maybeHeaders : messageOrHeaders;
    const carried = headers !== undefined && !Array.isArray(headers) && headers["x-request-id"] === this.requestId;
    if (this.requestId !== undefined && !carried && !this.headersSent) this.setHeader("X-Request-Id", this.requestId);
    return message === undefined ? super.writeHead(statusCode, headers) : super.writeHead(statusCode, message, headers);
  }
}

/** Gives `res` its request's id (exchange.ts). A response of a server not made by `listen` gets the header at once. */
export function tagWithRequestId(res: ServerResponse, requestId: string): void {
  if (res instanceof BrokerResponse) res.requestId = requestId;
  else res.setHeader("X-Request-Id", requestId);
}

/** The id `res` carries, for an answer that names it in its body (error-handler.ts). */
export function requestIdOf(res: ServerResponse): string | undefined {
  return res instanceof BrokerResponse ? res.requestId : res.getHeader("X-Request-Id")?.toString();
}
