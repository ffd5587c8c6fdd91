/** JSON answers written straight on Node's response, by every route whichever lane answers it. */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

/** A JSON answer, written in one go (no ETag: these answers are never cached). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(text));
  res.end(text);
}

/**
 * A document GET answers for anyone to cache (discovery, JWKS), with the
 * weak ETag express would give it, and `304` to a matching If-None-Match.
 */
export function sendDocument(req: IncomingMessage, res: ServerResponse, text: string, contentType: string): void {
  const etag = `W/"${Buffer.byteLength(text).toString(16)}-${createHash("sha1").update(text).digest("base64").slice(0, 27)}"`;
  res.setHeader("ETag", etag);
  if (req.headers["if-none-match"]?.split(",").some((tag) => tag.trim() === etag)) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.statusCode = 200;
  res.setHeader("Content-Type", contentType);
  res.setHeader("Content-Length", Buffer.byteLength(text));
  res.end(text);
}
