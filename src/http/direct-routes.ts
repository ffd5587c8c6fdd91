/**
 * Direct routes: the hot back-channel endpoints (`POST /oauth/token`,
 * `/oauth/introspect`, `/oauth/revoke`) answered straight from Node's HTTP
 * server, before express. Profiles of the token endpoint under load put
 * express 5 and pino-http at ~200 µs of main-thread CPU per request, more
 * than the token itself costs (docs/benchmarks.md); these endpoints are
 * called by programs, read a small form and answer JSON, so they need none
 * of what express adds (routing of many routers, prototype swaps, ETags).
 *
 * What a request still gets here, as on every express route: its request id
 * (`X-Request-Id`, the broker's; the caller's own only in the log line), the guards the broker's parts mount on the path (the
 * rate limiter), errors rendered by the same code as express's error
 * handler, and one "request completed" log line in the shape pino-http
 * writes, only built when that level is enabled. Every other method on
 * these paths (OPTIONS preflights, the 405s) and every other path falls
 * through to express.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../log.js";
import { redactUrl } from "../log.js";
import { clientAddress } from "./client-address.js";
import { renderError } from "./error-handler.js";
import { clientRequestIdOf, requestIdOf } from "./request-id.js";

/** One request on a direct route. */
export interface DirectExchange {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  /** The request's logger: lines carry the request as pino-http's do (made on first use). */
  readonly log: Logger;
}

/** A route answered without express: one method on one exact path (the query string is ignored). A GET route answers HEAD too, as express's do. */
export interface DirectRoute {
  method: "GET" | "POST";
  path: string;
  /** No completion line (health probes would drown the log, as with pino-http's ignore list). */
  quiet?: boolean;
  /** Ends the response, or throws: the error is rendered as the express error handler would. */
  handle(exchange: DirectExchange): Promise<void> | void;
}

/**
 * Every method on a path and everything under it, as express's
 * `router.use(mountPath)` (the proxy). `mount` matches the start of the
 * path, case-insensitively, up to a `/`, a `?` or the end; its groups are
 * the route's parameters, percent-decoded.
 */
export interface DirectMount {
  mount: RegExp;
  /** `rest`: what follows the mount path, still percent-encoded, with its query (`/files/1?x=y`; `/` when nothing follows). */
  handle(exchange: DirectExchange, rest: string, params: string[]): Promise<void>;
  /** Whether an error goes out as an OAuth error (RFC 6749 JSON) or the broker's API error with `request_id`. */
  oauthErrors?: boolean;
}

/** Runs before the handler of every direct route on `path` (the express middleware of the same path, for this lane). Throws to refuse. */
export interface DirectGuard {
  path: string;
  check(exchange: DirectExchange): Promise<void>;
}

/**
 * The path of a request target as express matches routes: without its
 * query string, case-insensitive, one trailing slash ignored.
 */
function routePathOf(url: string): string {
  const q = url.indexOf("?");
  let path = (q === -1 ? url : url.slice(0, q)).toLowerCase();
  if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
  return path;
}

class Exchange implements DirectExchange {
  private requestLog: Logger | undefined;
  /** Read at once: the socket is gone from `req` once the connection closes, before the completion line is written. */
  private readonly remoteAddress: string | undefined;
  private readonly clientRequestId: string | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly requestId: string,
    private readonly rootLog: Logger,
    trustProxyHops: number,
  ) {
    this.remoteAddress = clientAddress(req, trustProxyHops);
    this.clientRequestId = clientRequestIdOf(req);
  }

  /** The request as pino-http's serializer writes it (the URL's secret parameters masked). */
  serialized(): Record<string, unknown> {
    return {
      id: this.requestId,
      method: this.req.method,
      url: redactUrl(this.req.url ?? "/"),
      remoteAddress: this.remoteAddress,
      clientRequestId: this.clientRequestId,
    };
  }

  get log(): Logger {
    this.requestLog ??= this.rootLog.child({ req: this.serialized() });
    return this.requestLog;
  }
}

/** The same line pino-http writes when a response is done: `error` for 5xx, `info` otherwise. */
function logCompletion(log: Logger, exchange: Exchange, startedAt: number): void {
  if (!exchange.res.writableFinished) {
    // The connection closed before the answer was written (pino-http's "request aborted").
    if (log.isLevelEnabled("info")) log.info({ req: exchange.serialized(), responseTime: Date.now() - startedAt }, "request aborted");
    return;
  }
  const status = exchange.res.statusCode;
  const level = status >= 500 ? "error" : "info";
  if (!log.isLevelEnabled(level)) return;
  log[level]({ req: exchange.serialized(), res: { statusCode: status }, responseTime: Date.now() - startedAt }, "request completed");
}

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * A request listener that answers the direct routes itself and hands every
 * other request to `fallback` (the express app).
 */
export function withDirectRoutes(
  fallback: RequestListener,
  routes: readonly DirectRoute[],
  mounts: readonly DirectMount[],
  guards: readonly DirectGuard[],
  log: Logger,
  trustProxyHops: number,
): RequestListener {
  if (routes.length === 0 && mounts.length === 0) return fallback;
  const byKey = new Map<string, { route: DirectRoute; guards: DirectGuard[] }>();
  for (const route of routes) {
    for (const method of route.method === "GET" ? ["GET", "HEAD"] : [route.method]) {
      const key = `${method} ${route.path.toLowerCase()}`;
      if (byKey.has(key)) throw new Error(`two direct routes for ${key}`);
      byKey.set(key, { route, guards: guards.filter((g) => g.path.toLowerCase() === route.path.toLowerCase()) });
    }
  }
  const anchored = mounts.map((m) => ({ mount: m, pattern: new RegExp(`^(?:${m.mount.source})(?=[/?]|$)`, "i") }));
  return (req, res) => {
    const url = req.url ?? "/";
    const entry = byKey.get(`${req.method} ${routePathOf(url)}`);
    if (entry) {
      const startedAt = Date.now();
      const exchange = new Exchange(req, res, requestIdOf(req, res), log, trustProxyHops);
      const done = run(exchange, entry.route.path.startsWith("/oauth/"), async () => {
        for (const guard of entry.guards) await guard.check(exchange);
        await entry.route.handle(exchange);
      });
      if (!entry.route.quiet) void done.then(() => logCompletion(log, exchange, startedAt));
      return;
    }
    for (const { mount, pattern } of anchored) {
      const match = pattern.exec(url);
      if (!match) continue;
      const params = decodeParams(match.slice(1));
      // As express: a parameter that is not valid percent-encoding is the client's error, answered there.
      if (!params) return fallback(req, res);
      const startedAt = Date.now();
      const exchange = new Exchange(req, res, requestIdOf(req, res), log, trustProxyHops);
      const rest = url.slice(match[0].length);
      void run(exchange, mount.oauthErrors ?? false, () => mount.handle(exchange, rest.startsWith("/") ? rest : `/${rest}`, params)).then(() =>
        logCompletion(log, exchange, startedAt),
      );
      return;
    }
    fallback(req, res);
  };
}

function decodeParams(raw: (string | undefined)[]): string[] | undefined {
  try {
    return raw.map((p) => decodeURIComponent(p ?? ""));
  } catch {
    return undefined;
  }
}

async function run(exchange: Exchange, oauthErrors: boolean, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (err) {
    renderError(err, exchange.req, exchange.res, exchange.log, oauthErrors);
  }
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
