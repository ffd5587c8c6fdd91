/**
 * The app's request body, as it will be sent upstream. Small bodies of
 * known length are read into memory first so the call can be sent again
 * after an upstream 401 and a refresh; anything larger, or of unknown
 * length (chunked), is streamed straight through from the app's socket and
 * can be sent only once.
 */
import type { IncomingMessage } from "node:http";
import { PayloadTooLarge } from "../errors.js";

export type ProxyRequestBody =
  /** No body (RFC 9112 §6.3: neither Transfer-Encoding nor a non-zero Content-Length). */
  | { kind: "none" }
  /** Read completely; can be sent any number of times. */
  | { kind: "buffered"; bytes: Buffer }
  /** Streamed from the app: sent once. `length` is the app's Content-Length, if it sent one. */
  | { kind: "stream"; stream: IncomingMessage; length: number | undefined };

export function isReplayable(body: ProxyRequestBody): boolean {
  return body.kind !== "stream";
}

/**
 * The body when nothing must be read first: none, or a stream (chunked, or
 * longer than `replayableBytes`). Undefined for a body of known length up
 * to `replayableBytes`: `readRequestBody` reads it.
 */
export function requestBodyAtHand(req: IncomingMessage, replayableBytes: number): ProxyRequestBody | undefined {
  const declared = req.headers["content-length"];
  const length = declared === undefined ? undefined : Number(declared);
  const chunked = req.headers["transfer-encoding"] !== undefined;
  if (!chunked && (length === undefined || length === 0)) return NO_BODY;
  if (chunked || length === undefined || length > replayableBytes) return { kind: "stream", stream: req, length: chunked ? undefined : length };
  return undefined;
}

const NO_BODY: ProxyRequestBody = Object.freeze({ kind: "none" });

/** Reads a body of known length (Content-Length) into memory, so the call can be sent again. */
export async function readRequestBody(req: IncomingMessage): Promise<ProxyRequestBody> {
  const length = Number(req.headers["content-length"]);
  const bytes = Buffer.allocUnsafe(length);
  let filled = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    // Node's parser enforces Content-Length; this guards the buffer anyway.
    if (filled + chunk.length > length) throw new PayloadTooLarge("the request body is longer than its Content-Length");
    chunk.copy(bytes, filled);
    filled += chunk.length;
  }
  return { kind: "buffered", bytes: filled === length ? bytes : bytes.subarray(0, filled) };
}
