/**
 * Assembles the broker's request listener: the direct routes of the hot
 * back-channel endpoints (src/http/direct-routes.ts), then the express app:
 * request ids and logging first, then the routers of each part of the
 * broker, then the 404 and error handlers.
 */
import type { IncomingMessage } from "node:http";
import express, { type Express, type Router } from "express";
import { pinoHttp } from "pino-http";
import type { Services } from "../services.js";
import { redactUrl } from "../log.js";
import { clientAddress } from "./client-address.js";
import { errorHandler, notFoundHandler } from "./error-handler.js";
import { healthRouter } from "./health.js";
import { clientRequestIdOf, requestIdOf } from "./request-id.js";
import { withDirectRoutes, type DirectGuard, type DirectMount, type DirectRoute, type RequestListener } from "./direct-routes.js";

/**
 * What a part of the broker adds to the HTTP server: its express router and,
 * for hot endpoints, direct routes answered before express, with the guards
 * (rate limits) that must run before them as its middleware runs before
 * express routes.
 */
export interface HttpPart {
  router: Router;
  direct?: DirectRoute[];
  mounts?: DirectMount[];
  guards?: DirectGuard[];
}

/** The parts of the broker (oauth, connect, proxy, admin…), mounted in order. */
export type RouterFactory = (services: Services) => Router | HttpPart;

function asPart(made: Router | HttpPart): HttpPart {
  return typeof made === "function" ? { router: made } : made;
}

/** The broker's HTTP request listener (for `listen`): the direct routes, then the express app for everything else. */
export function createApp(services: Services, routers: RouterFactory[] = []): RequestListener {
  const parts = [healthRouter(services), ...routers.map((factory) => asPart(factory(services)))];
  const app = createExpressApp(services, parts);
  return withDirectRoutes(
    app,
    parts.flatMap((p) => p.direct ?? []),
    parts.flatMap((p) => p.mounts ?? []),
    parts.flatMap((p) => p.guards ?? []),
    services.log,
    services.config.trustProxyHops,
  );
}

function createExpressApp(services: Services, parts: HttpPart[]): Express {
  const app = express();
  app.disable("x-powered-by");
  // The broker reads X-Forwarded-For itself (client-address.ts); express's req.ip and req.protocol stay the socket's.
  app.set("trust proxy", false);
  app.set("query parser", "simple");

  app.use(
    pinoHttp({
      logger: services.log,
      genReqId: requestIdOf,
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? "error" : "info"),
      // Only what is needed to follow a request: never headers, which carry
      // Authorization and cookies, and never secret query parameters.
      serializers: {
        req: (req: { id: string; method: string; url: string; raw: IncomingMessage }) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(req.url),
          remoteAddress: clientAddress(req.raw, services.config.trustProxyHops),
          clientRequestId: clientRequestIdOf(req.raw),
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );

  for (const part of parts) app.use(part.router);
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
