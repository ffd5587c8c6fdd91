/**
 * Assembles the express app: request ids and logging first, then the routers
 * of each part of the broker, then the 404 and error handlers.
 */
import express, { type Express, type Router } from "express";
import { pinoHttp } from "pino-http";
import type { Services } from "../services.js";
import { redactUrl } from "../log.js";
import { errorHandler, notFoundHandler } from "./error-handler.js";
import { healthRouter } from "./health.js";
import { requestIdOf } from "./request-id.js";

/** Routers contributed by the parts of the broker (oauth, connect, proxy, admin…), mounted in order. */
export type RouterFactory = (services: Services) => Router;

export function createApp(services: Services, routers: RouterFactory[] = []): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", false);
  app.set("query parser", "simple");

  app.use(
    pinoHttp({
      logger: services.log,
      genReqId: requestIdOf,
      // Health probes would drown the log.
      autoLogging: { ignore: (req) => req.url === "/healthz" || req.url === "/readyz" },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? "error" : "info"),
      // Only what is needed to follow a request: never headers, which carry
      // Authorization and cookies, and never secret query parameters.
      serializers: {
        req: (req: { id: string; method: string; url: string; remoteAddress?: string }) => ({ id: req.id, method: req.method, url: redactUrl(req.url), remoteAddress: req.remoteAddress }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );

  app.use(healthRouter(services));
  for (const factory of routers) app.use(factory(services));
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
