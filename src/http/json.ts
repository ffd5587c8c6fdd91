/** JSON answers written straight on Node's response: by the direct routes and the error renderer. */
import type { ServerResponse } from "node:http";

/** A JSON answer, written in one go (no ETag: these answers are never cached). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(text));
  res.end(text);
}
