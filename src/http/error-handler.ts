/**
 * The one place errors become responses, in the style the route table gives
 * each route: OAuth endpoints get RFC 6749 §5.2 JSON (`error`,
 * `error_description`); other JSON APIs add `request_id`; pages an HTML page.
 * Anything that is not an exposed BrokerError is logged with its stack and
 * answered as `server_error` without detail.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../log.js";
import { sendJson } from "./json.js";
import { sendErrorPage } from "./html.js";
import { requestIdOf } from "./response.js";
import type { ErrorStyle } from "./route.js";
import {
  BadRequest,
  BrokerError,
  InvalidClient,
  NotFound,
  OAuthError,
  ServiceUnavailable,
  ValidationFailed,
  PayloadTooLarge,
  UnsupportedMediaType,
} from "../errors.js";

/** Errors from drivers that mean "a dependency is down": answered 503 with Retry-After. */
function isDependencyOutage(err: unknown): boolean {
  const e = err as { code?: string; name?: string; message?: string; cause?: unknown } | undefined;
  if (!e) return false;
  const codes = ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "57P01", "57P03", "08006", "08001", "P1001", "P1017"];
  if (e.code && codes.includes(e.code)) return true;
  if (
    typeof e.message === "string" &&
    /(Connection is closed|Stream isn't writeable|enableOfflineQueue|Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|DatabaseNotReachable|Can't reach database|Query read timeout)/i.test(
      e.message,
    )
  )
    return true;
  return e.cause !== undefined && e.cause !== err && isDependencyOutage(e.cause);
}

/**
 * PostgreSQL refusing text it cannot store: a NUL character (22021) or a
 * `\u0000` in JSON (22P05). Only a client puts one in an id or a parameter,
 * so it is that client's bad request, not a server error (found by the fuzz
 * test: `client_id=%00…` at /oauth/authorize answered 500).
 */
function isUnstorableText(err: unknown, depth = 0): boolean {
  const e = err as { code?: unknown; originalCode?: unknown; cause?: unknown } | undefined;
  if (!e || typeof e !== "object" || depth > 3) return false;
  if (e.code === "22021" || e.code === "22P05" || e.originalCode === "22021" || e.originalCode === "22P05") return true;
  return e.cause !== undefined && e.cause !== err && isUnstorableText(e.cause, depth + 1);
}

/** Body-parser and similar errors carry a `type` and `status`; give them stable codes. */
function fromHttpError(err: { type?: string; status?: number; message?: string }): BrokerError | undefined {
  switch (err.type) {
    case "entity.parse.failed":
      return new ValidationFailed("the request body is not valid");
    case "entity.too.large":
      return new PayloadTooLarge("the request body is too large");
    case "charset.unsupported":
    case "encoding.unsupported":
      return new UnsupportedMediaType("the request body encoding is not supported");
    case "parameters.too.many":
      return new ValidationFailed("too many parameters");
    default:
      return err.status && err.status >= 400 && err.status < 500 ? new BrokerError(err.status, "invalid_request", "the request could not be read") : undefined;
  }
}

export function toBrokerError(err: unknown): BrokerError {
  if (err instanceof BrokerError) return err;
  if (isDependencyOutage(err))
    return new ServiceUnavailable("a backing service is unavailable, try again shortly", { cause: err, headers: { "Retry-After": "5" } });
  if (isUnstorableText(err)) return new BadRequest("the request contains a character that is not allowed here, such as NUL", { cause: err });
  const http = typeof err === "object" && err !== null ? fromHttpError(err as { type?: string; status?: number }) : undefined;
  return http ?? new BrokerError(500, "server_error", "internal error", { cause: err });
}

export function errorBody(
  error: BrokerError,
  requestId: string | undefined,
  style: ErrorStyle,
): { error: string; error_description: string } & Record<string, unknown> {
  const code = error.expose ? error.code : "server_error";
  const description = error.expose ? error.description : "internal error";
  // The error's own extra fields first: they never replace the standard ones.
  const body: { error: string; error_description: string } & Record<string, unknown> = {
    ...(error.expose && style !== "page" ? error.body : undefined),
    error: code,
    error_description: description,
  };
  if (style === "api" && requestId) body.request_id = requestId;
  return body;
}

/**
 * Writes `err` as the answer to `req`, in the route's error style: RFC 6749
 * §5.2 JSON for OAuth endpoints, the API JSON with `request_id`, or an HTML
 * error page. The one renderer of every route, whichever lane answers it.
 */
export function renderError(err: unknown, req: IncomingMessage, res: ServerResponse, log: Logger | undefined, style: ErrorStyle): void {
  // The client went away (its request cut mid-body, an ECONNRESET): nobody to answer, and no
  // dependency failed, whatever the error's code says.
  if (!res.headersSent && (res.socket === null || res.socket.destroyed)) {
    log?.debug({ err: { message: (err as Error)?.message } }, "the client closed the connection before the answer");
    return;
  }
  const error = toBrokerError(err);
  const requestId = requestIdOf(res);
  if (error.status >= 500 && !error.expose) log?.error({ err: error.cause ?? error }, "request failed");
  // A 503 for a dependency outage says which dependency, and how it failed, to whoever reads the log.
  else if (error instanceof ServiceUnavailable && error.cause !== undefined) log?.warn({ err: error.cause }, "a backing service is unavailable");
  else log?.debug({ err: error }, "request rejected");
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  const body = errorBody(error, requestId, style);
  if (style === "page") {
    sendErrorPage(res, error.status, body.error, body.error_description);
    return;
  }
  // RFC 6749 §5.2: a failed client authentication through the Authorization header gets a challenge.
  if (error instanceof InvalidClient && req.headers.authorization?.startsWith("Basic ")) res.setHeader("WWW-Authenticate", 'Basic realm="authbroker"');
  // RFC 6749 §5.1: OAuth answers, errors included, are never cached.
  if (error instanceof OAuthError || style === "oauth") {
    res.setHeader("Cache-Control", "no-store");
    res.setHeader("Pragma", "no-cache");
  }
  sendJson(res, error.status, body);
}
