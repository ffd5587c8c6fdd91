/**
 * The direct lane: routes the table marks `direct`, answered straight from
 * Node's HTTP server, before express. Profiles of the token endpoint under
 * load put express and its logger at ~200 µs of main-thread CPU per request,
 * more than a token costs (docs/benchmarks.md); the token, introspection and
 * revocation endpoints, the proxy, JWKS, discovery and the health probes are
 * called by programs at high rates and need nothing express adds. They go
 * through the same pipeline as every route (pipeline.ts): only the
 * dispatcher differs. Paths are matched by find-my-way as express matches
 * them: case-insensitively, one trailing slash ignored. Every request no
 * direct route takes goes to `fallback` (the express lane).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import FindMyWay from "find-my-way";
import { admit, answerOtherMethod, beginExchange, fail, summarizePaths, type HttpDeps } from "./pipeline.js";
import type { DirectRoute, Route } from "./route.js";

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

type Serve = (req: IncomingMessage, res: ServerResponse, params: Record<string, string | undefined>) => void;

/** The methods a 405 is generated for (a path's other methods); `ANY` routes take them all. */
const ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] as const;

/** The number of path segments before a final `/*`: what the route's `rest` starts after. */
function prefixSegments(path: string): number {
  return path.endsWith("/*") ? path.slice(0, -2).split("/").length - 1 : -1;
}

/** What follows the first `segments` segments of the request target, still percent-encoded, with its query; `/` when nothing does. */
export function restOf(url: string, segments: number): string {
  const q = url.indexOf("?");
  const end = q === -1 ? url.length : q;
  // The slash that ends the prefix: the (segments + 1)th of the path.
  let slash = -1;
  for (let seen = 0; seen <= segments; seen++) {
    slash = url.indexOf("/", slash + 1);
    if (slash === -1 || slash >= end) return `/${q === -1 ? "" : url.slice(q)}`;
  }
  return `/${url.slice(slash + 1)}`;
}

function serveRoute(route: DirectRoute, deps: HttpDeps): Serve {
  const segments = prefixSegments(route.path);
  return (req, res, params) => {
    const exchange = beginExchange(route, req, res, deps);
    const { "*": _rest, ...named } = params;
    exchange.params = named as Record<string, string>;
    if (segments >= 0) exchange.rest = restOf(req.url ?? "/", segments);
    void (async () => {
      try {
        const admitted = admit(route, exchange, deps);
        if (admitted) await admitted;
        await route.handle(exchange);
      } catch (err) {
        fail(err, exchange, route.errors);
      }
    })();
  };
}

/** A listener answering the direct routes of `routes`, handing every other request to `fallback`. */
export function directLane(routes: readonly Route<unknown>[], deps: HttpDeps, fallback: RequestListener): RequestListener {
  const direct = routes.filter((r): r is DirectRoute => r.lane === "direct");
  if (direct.length === 0) return fallback;
  const router = FindMyWay({ ignoreTrailingSlash: true, caseSensitive: false });
  const add = (method: string, path: string, serve: Serve) => {
    router.on(method as "GET", path, () => undefined, { serve });
    // `/x/*` takes `/x` itself too, as express's router.use("/x") did.
    if (path.endsWith("/*")) router.on(method as "GET", path.slice(0, -2), () => undefined, { serve });
  };
  for (const route of direct) {
    const serve = serveRoute(route, deps);
    for (const method of route.method === "ANY" ? ALL_METHODS : route.method === "GET" ? ["GET", "HEAD"] : [route.method]) add(method, route.path, serve);
  }
  for (const summary of summarizePaths(direct)) {
    if (summary.methods.includes("ANY")) continue;
    const taken = new Set<string>([...summary.methods, ...(summary.methods.includes("GET") ? ["HEAD"] : [])]);
    for (const method of ALL_METHODS) if (!taken.has(method)) add(method, summary.path, (req, res) => answerOtherMethod(summary, req, res, deps));
  }
  return (req, res) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const found = router.find(req.method as "GET", q === -1 ? url : url.slice(0, q));
    if (!found) return fallback(req, res);
    (found.store as { serve: Serve }).serve(req, res, found.params);
  };
}
