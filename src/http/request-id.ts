/**
 * Request ids. The broker's id for a request is always its own: it is
 * echoed in `X-Request-Id`, attached to every log line, written in audit
 * rows and sent upstream by the proxy, so a client must not choose it (to
 * make its calls share an id with someone else's, or to plant text in those
 * records). A caller's own `X-Request-Id`, when it looks like an id, is
 * kept beside it in the request's log line (`clientRequestId`), so a trace
 * can still be followed from the app into the broker's log.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A new id for a request (the exchange sets it as the response's `X-Request-Id`). */
export function newRequestId(): string {
  return randomUUID();
}

/** The caller's `X-Request-Id` if it is a well-formed id, for the log line only; anything else is dropped. */
export function clientRequestIdOf(req: IncomingMessage): string | undefined {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && SAFE_ID.test(given) ? given : undefined;
}
