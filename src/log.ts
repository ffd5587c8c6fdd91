/**
 * Logging: pino, with secrets redacted before a line is written. Any field
 * whose name says it holds a secret is replaced, at any depth, and URL query
 * parameters of the same names are masked, so a request log of
 * `/connect/callback?code=…` or a failed upstream call never leaks one.
 */
import { pino, type DestinationStream, type Logger } from "pino";
import { ON_DEMAND_CONNECT_PATH } from "./paths.js";

export type { Logger };

/** Field names whose values are secrets wherever they appear. */
const SECRET_KEY = /(secret|password|passwd|token|code|assertion|authorization|cookie|credential|private|verifier|api[-_]?key)/i;
/** Keys that match SECRET_KEY but hold no secret (status codes, error codes). */
const NOT_SECRET = new Set([
  "statusCode",
  "status_code",
  "error",
  "errorCode",
  "code_challenge_method",
  "tokenType",
  "token_type",
  "tokenEndpointAuthMethod",
  "token_endpoint_auth_method",
]);
export const REDACTED = "[redacted]";

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !NOT_SECRET.has(key);
}

/**
 * Paths whose last segment is a capability: a connect-on-demand link's
 * ticket is the only key to it (oauth/connect-tickets.ts), so request log
 * lines show `/connect/on-demand/[redacted]`.
 */
const CAPABILITY_PATH = new RegExp(`(${ON_DEMAND_CONNECT_PATH}/)[^/?#]+`);

/** Mask secret query parameters of a URL or path ("/cb?code=x" → "/cb?code=[redacted]") and capability path segments. */
export function redactUrl(raw: string): string {
  const url = raw.replace(CAPABILITY_PATH, `$1${REDACTED}`);
  const q = url.indexOf("?");
  if (q === -1) return url;
  const params = url
    .slice(q + 1)
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      const name = eq === -1 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        /* keep raw name */
      }
      return eq !== -1 && isSecretKey(decoded) ? `${name}=${REDACTED}` : pair;
    });
  return `${url.slice(0, q)}?${params.join("&")}`;
}

/**
 * The fields of an error that may be logged: never its own enumerable
 * properties, where HTTP client errors keep request headers and response
 * bodies (tokens). Messages of our errors never carry secrets; stacks are
 * kept for 5xx only.
 */
export function serializeError(err: unknown): Record<string, unknown> {
  // pino-std-serializers' copy of an error names the class in `type`.
  const copy = err as { raw?: unknown; type?: string };
  const e = (copy.raw ?? err) as Error & { code?: unknown; detail?: string; status?: number; type?: string };
  return {
    type: e.name || e.type || copy.type,
    message: e.message,
    code: typeof e.code === "string" || typeof e.code === "number" ? e.code : undefined,
    status: e.status,
    detail: e.detail,
    stack: e.status && e.status < 500 ? undefined : e.stack,
  };
}

/** Paths and absolute URLs with a query: the query may carry a code or a token. */
const URL_WITH_QUERY = /^(\/|https?:\/\/)[^\s]*\?/i;

/** Deep copy of a log object with secret fields replaced. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return URL_WITH_QUERY.test(value) ? redactUrl(value) : value;
  if (value === null || typeof value !== "object") return value;
  // Beyond this depth nothing is inspected, so nothing is written either.
  if (depth > 8) return "[too deep]";
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  // An error under any key is reduced to safe fields; JSON.stringify would
  // otherwise write all its own properties (a `response.body.access_token`).
  if (value instanceof Error) return serializeError(value);
  if (value instanceof URL) return redactUrl(value.href);
  // Only plain objects are walked: requests and responses have their own
  // serializers, which run after this and pick safe fields.
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (isSecretKey(key)) out[key] = v === undefined || v === null ? v : REDACTED;
    else if ((key === "url" || key === "path") && typeof v === "string") out[key] = redactUrl(v);
    else out[key] = redact(v, depth + 1);
  }
  return out;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const logger = pino(
    {
      level,
      base: { service: "authbroker" },
      formatters: { log: (object) => redact(object) as Record<string, unknown> },
      serializers: { err: serializeError },
    },
    destination ?? pino.destination({ sync: false }),
  );
  // pino formats only the root's bindings, never a child's (`log.child({...})`):
  // redact them when the child is made. Children inherit this method.
  const makeChild = logger.child;
  logger.child = function (this: Logger, bindings: Record<string, unknown>, options?: Parameters<Logger["child"]>[1]) {
    return makeChild.call(this, redact(bindings) as Record<string, unknown>, options);
  } as Logger["child"];
  return logger;
}
