/**
 * The express lane: every route of the table that is not `direct` — the
 * browser pages, the accounts and admin APIs, and applications mounted as a
 * whole (the queue dashboard) — each with the pipeline of every route
 * (pipeline.ts) before its handler, and the body parser it declares. Then
 * the answers no handler writes: preflights and 405s per path, 404 for any
 * other path.
 */
import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from "express";
import { NotFound } from "../errors.js";
import type { Logger } from "../log.js";
import type { RequestExchange } from "./exchange.js";
import { admit, answerOtherMethod, beginExchange, fail, summarizePaths, type HttpDeps } from "./pipeline.js";
import type { ExpressExchange, ExpressRoute, MountedApp, Route } from "./route.js";

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The exchange's logger (its lines carry the request). */
      log: Logger;
      /** The broker's id of this request. */
      id: string;
    }
  }
}

/** The body parsers routes may ask for: small, flat, one value per name. */
const BODY_PARSERS: Record<NonNullable<ExpressRoute["body"]>, RequestHandler> = {
  form: express.urlencoded({ extended: false, limit: "16kb", parameterLimit: 50 }),
  json: express.json({ limit: "64kb", strict: true }),
};

interface Locals {
  exchange: RequestExchange<unknown>;
  route: Route<unknown>;
}

function localsOf(res: Response): Partial<Locals> {
  return res.locals as Partial<Locals>;
}

/** Starts the exchange of a request on `route` and runs the pipeline; express's req.log and req.id are the exchange's. */
function enter(route: Route<unknown>, deps: HttpDeps): RequestHandler {
  return (req, res, next) => {
    const exchange = beginExchange(route, req, res, deps);
    exchange.params = { ...req.params } as Record<string, string>;
    Object.defineProperty(req, "log", { get: () => exchange.log, configurable: true });
    req.id = exchange.requestId;
    Object.assign(res.locals, { exchange, route } satisfies Locals);
    // A refusal thrown at once goes to express's error handler like one that comes later.
    Promise.resolve()
      .then(() => admit(route, exchange, deps))
      .then(() => next(), next);
  };
}

function handler(route: ExpressRoute): RequestHandler {
  return (_req, res, next) => {
    const { exchange } = localsOf(res) as Locals;
    Promise.resolve(route.handle(exchange as unknown as ExpressExchange)).catch(next);
  };
}

export function expressLane(routes: readonly Route<unknown>[], deps: HttpDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  // The broker reads X-Forwarded-For itself (client-address.ts); express's req.ip and req.protocol stay the socket's.
  app.set("trust proxy", false);
  app.set("query parser", "simple");

  const laneRoutes = routes.filter((r): r is ExpressRoute | MountedApp => r.lane === "express" || r.lane === "mount");
  for (const route of laneRoutes) {
    if (route.lane === "mount") {
      app.use(route.path, enter(route, deps), route.app);
      continue;
    }
    const method = route.method === "ANY" ? "all" : (route.method.toLowerCase() as "get" | "post" | "put" | "patch" | "delete");
    app[method](route.path, enter(route, deps), ...(route.body ? [BODY_PARSERS[route.body]] : []), handler(route));
  }
  for (const summary of summarizePaths(laneRoutes))
    if (!summary.methods.includes("ANY")) app.all(summary.path, (req, res) => answerOtherMethod(summary, req, res, deps));
  app.use((req, res) => fail(new NotFound(`no route for ${req.method} ${req.path}`), beginExchange({}, req, res, deps), "api"));
  // Errors of a route (its handler, its body parser), in the route's style.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { exchange, route } = localsOf(res);
    if (exchange && route) fail(err, exchange, route.errors);
    else fail(err, beginExchange({}, req, res, deps), "api");
  });
  return app;
}
