/**
 * What an app is told when the upstream could not be reached or did not
 * answer in time: 504 `upstream_timeout` for the timeouts (connect,
 * response headers, response body idle), 502 `upstream_error` for
 * everything else (refused, reset, DNS, TLS, a forbidden address). The
 * undici error goes to the log only.
 */
import { BrokerError, UpstreamError, UpstreamTimeout } from "../errors.js";

const TIMEOUT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "ETIMEDOUT"]);

function codeOf(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === "string" && e.code !== "") return e.code;
  }
  return undefined;
}

/** Whether an error from the upstream call is one of its timeouts. */
export function isUpstreamTimeout(err: unknown): boolean {
  const code = codeOf(err);
  return code !== undefined && TIMEOUT_CODES.has(code);
}

/** The error an app sees for a failed upstream call to `upstreamName`. */
export function upstreamFailure(err: unknown, upstreamName: string): BrokerError {
  if (err instanceof BrokerError) return err;
  const code = codeOf(err);
  if (isUpstreamTimeout(err)) return new UpstreamTimeout(`${upstreamName} did not answer in time`, { detail: code, cause: err });
  return new UpstreamError(`${upstreamName} could not be reached`, { detail: code, cause: err });
}
