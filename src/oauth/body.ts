/**
 * Form bodies of the OAuth endpoints (RFC 6749 §3.2, §4.1.3): read once,
 * bounded, `application/x-www-form-urlencoded` only, every parameter at most
 * once. A general body parser would silently turn `a=1&a=2` into an array or
 * keep the last value; RFC 6749 §3.2 says such a request is invalid.
 */
import type { IncomingMessage } from "node:http";
import { InvalidRequest } from "../errors.js";
import { severalResources } from "./resource-indicators.js";

/** Token requests are a handful of short parameters; anything larger is not one. */
const MAX_FORM_BYTES = 64 * 1024;

/** The parameters of a form body. Empty values count as absent (RFC 6749 §3.1). */
export type FormParameters = ReadonlyMap<string, string>;

/** Whether the request says its body is a URL-encoded form (parameters such as `charset=utf-8` allowed). */
export function isFormContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const [mediaType, ...parameters] = contentType.split(";").map((part) => part.trim().toLowerCase());
  if (mediaType !== "application/x-www-form-urlencoded") return false;
  const charset = parameters
    .find((p) => p.startsWith("charset="))
    ?.slice("charset=".length)
    .replace(/"/g, "");
  return charset === undefined || charset === "utf-8" || charset === "us-ascii";
}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) throw new InvalidRequest("the request body is too large");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new InvalidRequest("the request body is too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Each request's form, read once: the rate limiter (src/http/rate-limit.ts)
 * reads the client_id before the endpoint does, and both must see the same
 * parameters, or the same error.
 */
const formsRead = new WeakMap<IncomingMessage, Promise<FormParameters>>();

/**
 * Reads and parses the form body of an OAuth request (once; a second call
 * answers the same). Throws `InvalidRequest` for another media type, an
 * oversized body or a repeated parameter (RFC 6749 §3.2).
 */
export function readForm(req: IncomingMessage, limit = MAX_FORM_BYTES): Promise<FormParameters> {
  let form = formsRead.get(req);
  if (!form) {
    form = parseForm(req, limit);
    formsRead.set(req, form);
  }
  return form;
}

async function parseForm(req: IncomingMessage, limit: number): Promise<FormParameters> {
  if (!isFormContentType(req.headers["content-type"])) throw new InvalidRequest("the request body must be application/x-www-form-urlencoded");
  // A body parser mounted before this endpoint would have drained the stream
  // and merged repeated parameters; that is a wiring mistake, not a client one.
  if ((req as { _body?: boolean })._body) throw new TypeError("a body parser consumed the OAuth request body before the endpoint could check it");
  const text = await readBody(req, limit);
  const parameters = new Map<string, string>();
  const seen = new Set<string>();
  for (const [name, value] of new URLSearchParams(text)) {
    // RFC 8707 §2 lets `resource` repeat; the broker issues each token for one, and says so as invalid_target.
    if (seen.has(name)) throw name === "resource" ? severalResources() : new InvalidRequest(`parameter "${name}" is repeated`);
    seen.add(name);
    if (value !== "") parameters.set(name, value);
  }
  return parameters;
}
