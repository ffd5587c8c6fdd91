/**
 * The headers of outbound rate control (docs/proxy.md, "Upstream rate
 * limits"), read defensively: every value is the caller's or an upstream's
 * free text, so anything malformed reads as "nothing said", never as NaN,
 * a negative wait or a wait of days.
 *
 * - `Prefer: wait=<seconds>` (RFC 7240 §4.3), from the app: how long it
 *   is willing to wait for a free slot;
 * - from the upstream's answer, how long it wants no more calls:
 *   `Retry-After` on a 429 or 503 (RFC 9110 §10.2.3: seconds or an HTTP
 *   date), `RateLimit-Remaining: 0` with `RateLimit-Reset` (seconds, the
 *   IETF draft's first versions), `RateLimit: …;r=0;t=<seconds>` (its later
 *   versions), and `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset`
 *   (GitHub, Twitter: epoch seconds; a small number is taken as seconds
 *   from now, as some APIs send).
 */
import type { IncomingHttpHeaders } from "node:http";

/** The longest hold an upstream's answer can impose (ms): a bad or hostile header cannot stop a connector for longer. */
export const MAX_UPSTREAM_HOLD_MS = 3_600_000;

/** The longest `Prefer: wait` read (seconds); the operator's PROXY_RATE_LIMIT_MAX_WAIT_MS bounds it further. */
const MAX_PREFER_WAIT_SECONDS = 86_400;

/** Epoch seconds are told apart from a number of seconds by size: anything past 2001-09-09 is a date. */
const EPOCH_SECONDS_FROM = 1_000_000_000;

type Headers = IncomingHttpHeaders | Record<string, string | string[] | undefined>;

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A non-negative whole number of at most 12 digits, or undefined. */
function digits(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  return /^\d{1,12}$/.test(trimmed) ? Number(trimmed) : undefined;
}

/**
 * The `wait` preference of the app's `Prefer` header(s), in seconds, or
 * undefined when there is none or it is not a number. Preferences are
 * comma-separated, names are case-insensitive, a value may be quoted, and
 * parameters after `;` are ignored (RFC 7240 §2).
 */
export function preferredWaitSeconds(prefer: string | string[] | undefined): number | undefined {
  if (prefer === undefined) return undefined;
  for (const header of Array.isArray(prefer) ? prefer : [prefer]) {
    for (const preference of header.split(",")) {
      const [head = ""] = preference.split(";");
      const match = /^\s*wait\s*=\s*"?(\d{1,12})"?\s*$/i.exec(head);
      if (match) return Math.min(Number(match[1]), MAX_PREFER_WAIT_SECONDS);
    }
  }
  return undefined;
}

/** `Retry-After` in ms from `now`: delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when unreadable. */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const seconds = digits(value);
  if (seconds !== undefined) return seconds * 1000;
  // Only a date with a day name and GMT, as HTTP dates are: Date.parse would take far looser text.
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(value.trim())) return undefined;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** The structured `RateLimit` field of the later drafts: the smallest `t` of an item whose `r` is 0. */
function structuredRateLimitMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  let hold: number | undefined;
  for (const item of value.split(",")) {
    const params = new Map<string, string>();
    for (const part of item.split(";").slice(1)) {
      const [key, val] = part.split("=", 2);
      if (key !== undefined && val !== undefined) params.set(key.trim().toLowerCase(), val.trim());
    }
    const remaining = digits(params.get("r"));
    const reset = digits(params.get("t"));
    if (remaining === 0 && reset !== undefined) hold = Math.max(hold ?? 0, reset * 1000);
  }
  return hold;
}

/** A reset that is either epoch seconds or seconds from now, in ms from `now`. */
function resetMs(value: string | undefined, now: number): number | undefined {
  const n = digits(value);
  if (n === undefined) return undefined;
  return n >= EPOCH_SECONDS_FROM ? Math.max(0, n * 1000 - now) : n * 1000;
}

/**
 * How long (ms) the upstream's answer asks for no further calls, capped at
 * MAX_UPSTREAM_HOLD_MS; 0 when it says nothing of the sort. When several
 * headers speak, the longest hold wins.
 */
export function upstreamHoldMs(status: number, headers: Headers, now: number): number {
  let hold = 0;
  const take = (ms: number | undefined) => {
    if (ms !== undefined && ms > hold) hold = ms;
  };
  if (status === 429 || status === 503) take(retryAfterMs(first(headers["retry-after"]), now));
  if (digits(first(headers["ratelimit-remaining"])) === 0) take(resetMs(first(headers["ratelimit-reset"]), now));
  take(structuredRateLimitMs(first(headers["ratelimit"])));
  if (digits(first(headers["x-ratelimit-remaining"])) === 0) take(resetMs(first(headers["x-ratelimit-reset"]), now));
  return Math.min(hold, MAX_UPSTREAM_HOLD_MS);
}
