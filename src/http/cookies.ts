/**
 * The broker's own cookies, read and set without a cookie parser: a few
 * cookies, each looked up by name where it is needed.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** One cookie's value from the Cookie header (no cookie parser needed for one lookup). */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Adds a `Set-Cookie` header to the response, keeping the ones already set. */
export function addSetCookie(res: ServerResponse, setCookie: string): void {
  const previous = res.getHeader("Set-Cookie");
  const cookies = previous === undefined ? [] : Array.isArray(previous) ? previous : [String(previous)];
  res.setHeader("Set-Cookie", [...cookies, setCookie]);
}
