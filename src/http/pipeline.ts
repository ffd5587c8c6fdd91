/**
 * What runs around every handler, as the route table declares it, the same
 * whichever lane answers: the exchange (request id, log line), CORS, the
 * rate limit, the authenticator; and, for every path of the table, the
 * answers no handler writes: `OPTIONS` preflights of open routes, `405`
 * with `Allow` for a method the path does not serve.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { MethodNotAllowed } from "../errors.js";
import type { Logger } from "../log.js";
import { answerPreflight, openToScripts } from "./cors.js";
import { renderError } from "./error-handler.js";
import { RequestExchange } from "./exchange.js";
import type { RateLimits } from "./rate-limit.js";
import type { ErrorStyle, Method, Route } from "./route.js";
import { andThen } from "../maybe-promise.js";

/** What the HTTP layer needs of the broker. */
export interface HttpDeps {
  log: Logger;
  /** TRUST_PROXY_HOPS: how many reverse proxies' X-Forwarded-For entries name a client's address. */
  trustProxyHops: number;
  rateLimits: RateLimits;
}

/** A new exchange for a request on `route` (its completion line unless the route is quiet). */
export function beginExchange<C>(route: Pick<Route<C>, "quiet">, req: IncomingMessage, res: ServerResponse, deps: HttpDeps): RequestExchange<C> {
  const exchange = new RequestExchange<C>(req, res, deps.log, deps.trustProxyHops);
  if (!route.quiet) exchange.logCompletion();
  return exchange;
}

/**
 * CORS, the rate limit and the authenticator, in that order; throws (or
 * rejects with) the refusal. Returns a promise only when a step must wait:
 * an authenticator that knows its caller at once admits the request
 * without a turn of the event loop (the proxy's common call).
 */
export function admit<C>(route: Route<C>, exchange: RequestExchange<C>, deps: HttpDeps): Promise<void> | undefined {
  if (route.cors) openToScripts(exchange.res);
  // The logger is made only when a refusal is logged: most requests log nothing but their completion line.
  if (route.rateLimit) return deps.rateLimits.check(route.rateLimit, exchange.req, () => exchange.log).then(() => authenticate(route, exchange));
  return authenticate(route, exchange);
}

function authenticate<C>(route: Route<C>, exchange: RequestExchange<C>): Promise<void> | undefined {
  return andThen(route.auth.authenticate(exchange.req, exchange.params), (caller) => {
    exchange.caller = caller;
    return undefined;
  });
}

/** Renders a failure of `exchange` in the route's style. */
export function fail(err: unknown, exchange: RequestExchange<unknown>, style: ErrorStyle): void {
  renderError(err, exchange.req, exchange.res, exchange.log, style);
}

/** What the table says of one path, for the answers no handler writes. */
export interface PathSummary {
  path: string;
  /** The methods its routes serve (HEAD with GET). */
  methods: Method[];
  cors: boolean;
  errors: ErrorStyle;
}

/** The paths of `routes` with their methods, in table order. */
export function summarizePaths(routes: readonly Route<unknown>[]): PathSummary[] {
  const byPath = new Map<string, PathSummary>();
  for (const r of routes) {
    if (r.lane === "mount") continue;
    const key = r.path.toLowerCase();
    const summary = byPath.get(key) ?? { path: r.path, methods: [], cors: false, errors: r.errors };
    if (summary.methods.includes(r.method) || (summary.methods.length > 0 && (r.method === "ANY" || summary.methods.includes("ANY"))))
      throw new TypeError(`two routes for ${r.method} ${r.path}`);
    summary.methods.push(r.method);
    summary.cors ||= r.cors === true;
    byPath.set(key, summary);
  }
  return [...byPath.values()];
}

/** The `Allow` list of a path. */
function allowed(summary: PathSummary): string[] {
  const methods: string[] = [...summary.methods];
  if (methods.includes("GET")) methods.push("HEAD");
  if (summary.cors) methods.push("OPTIONS");
  return methods;
}

/** Answers a request whose method the path does not serve: a preflight of an open path, or 405. */
export function answerOtherMethod(summary: PathSummary, req: IncomingMessage, res: ServerResponse, deps: HttpDeps): void {
  const exchange = beginExchange({}, req, res, deps);
  if (summary.cors && req.method === "OPTIONS") {
    answerPreflight(res, summary.methods);
    return;
  }
  if (summary.cors) openToScripts(res);
  fail(
    new MethodNotAllowed(`${summary.path} accepts ${summary.methods.join(", ")} only`, { headers: { Allow: allowed(summary).join(", ") } }),
    exchange,
    summary.errors,
  );
}
