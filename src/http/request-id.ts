/**
 * Request ids: a caller's `X-Request-Id` is kept when it looks like an id
 * (so a trace spans the app, the broker and the upstream), otherwise one is
 * made. It is echoed in the response and attached to every log line.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdOf(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers["x-request-id"];
  const id = typeof given === "string" && SAFE_ID.test(given) ? given : randomUUID();
  res.setHeader("X-Request-Id", id);
  return id;
}
