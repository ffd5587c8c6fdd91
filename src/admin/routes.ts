/**
 * The operator surface as routes of the table (src/routes.ts): every
 * operation of the admin API's own table (operations.ts: the same zod
 * schemas validate requests and make the OpenAPI document) under
 * `/admin/v1`, the OpenAPI document, the Prometheus metrics and the BullMQ
 * dashboard — all behind admin authentication (auth.ts).
 */
import { ADMIN_PREFIX, METRICS_PATH, QUEUE_DASHBOARD_PATH } from "../paths.js";
import type { RequestHandler } from "express";
import type { z } from "zod";
import type { Services } from "../services.js";
import { ValidationFailed } from "../errors.js";
import { sendJson } from "../http/json.js";
import { route, type ExpressExchange, type Route } from "../http/route.js";
import { adminAuthentication, type AdminActor } from "./auth.js";
import { ADMIN_OPERATIONS } from "./operations.js";
import { buildOpenApiDocument } from "./openapi.js";
import type { AdminOperation } from "./route-table.js";

function validate<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.infer<T> | undefined {
  if (!schema) return undefined;
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationFailed(`${where}${issue.path.length ? `.${issue.path.join(".")}` : ""}: ${issue.message}`);
  }
  return parsed.data;
}

/** An admin operation's handler: its input validated by its schemas, its answer as JSON. */
function operationHandler(services: Services, op: AdminOperation): (exchange: ExpressExchange<AdminActor>) => Promise<void> {
  return async ({ req, res, requestId, caller }) => {
    // An operation whose body fields all have defaults may be called with none (an empty POST: Content-Length 0).
    const hasBody = req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
    if (op.body && hasBody && !req.is("application/json")) throw new ValidationFailed("the body must be application/json");
    const input = {
      params: validate(op.params, req.params, "path"),
      query: validate(op.query, req.query, "query"),
      body: validate(op.body, req.body, "body"),
    };
    const result = await op.handle(input as never, { services, actor: caller, requestId, req });
    res.setHeader("Cache-Control", "no-store");
    sendJson(res, op.status ?? 200, result);
  };
}

/** `GET /metrics`: Prometheus text, with the refresh queue's depth read at scrape time. */
function metricsHandler(services: Services): (exchange: ExpressExchange<AdminActor>) => Promise<void> {
  return async ({ res }) => {
    const counts = await services.queues.refresh.getJobCounts("wait", "delayed", "active", "failed").catch(() => undefined);
    if (counts) for (const [state, n] of Object.entries(counts)) services.metrics.queueDepth.set({ queue: "refresh", state }, n);
    res.setHeader("Content-Type", services.metrics.registry.contentType);
    res.end(await services.metrics.registry.metrics());
  };
}

/**
 * The BullMQ dashboard, an express application of its own, built on its
 * first request: its modules are ~15 MiB of a serving process that most
 * operators never open (docs/benchmarks.md, the proxy's RSS).
 */
function queueDashboard(services: Services): RequestHandler {
  let board: Promise<RequestHandler> | undefined;
  const build = async (): Promise<RequestHandler> => {
    const [{ createBullBoard }, { BullMQAdapter }, { ExpressAdapter }] = await Promise.all([
      import("@bull-board/api"),
      import("@bull-board/api/bullMQAdapter"),
      import("@bull-board/express"),
    ]);
    const boardAdapter = new ExpressAdapter();
    boardAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
    createBullBoard({ queues: [new BullMQAdapter(services.queues.refresh), new BullMQAdapter(services.queues.webhooks)], serverAdapter: boardAdapter });
    return boardAdapter.getRouter() as RequestHandler;
  };
  return (req, res, next) => {
    board ??= build();
    board.then((handle) => handle(req, res, next), next);
  };
}

/** The operator routes, for the route table. */
export function adminRoutes(services: Services): Route[] {
  const admin = adminAuthentication(services, "bearer");
  const openapi = buildOpenApiDocument(ADMIN_OPERATIONS, services.config.issuer);
  return [
    route<AdminActor>({
      lane: "express",
      method: "GET",
      path: `${ADMIN_PREFIX}/openapi.json`,
      errors: "api",
      auth: admin,
      handle: ({ res }) => sendJson(res, 200, openapi),
    }),
    ...ADMIN_OPERATIONS.map((op) =>
      route<AdminActor>({
        lane: "express",
        method: op.method.toUpperCase() as "GET",
        path: `${ADMIN_PREFIX}${op.path.replace(/\{(\w+)\}/g, ":$1")}`,
        errors: "api",
        auth: admin,
        ...(op.body ? { body: "json" as const } : {}),
        handle: operationHandler(services, op),
      }),
    ),
    route<AdminActor>({ lane: "express", method: "GET", path: METRICS_PATH, errors: "api", auth: admin, handle: metricsHandler(services) }),
    // Opened in a browser: Basic (any user, the admin token as password), and a Basic challenge alone so the browser prompts.
    route<AdminActor>({
      lane: "mount",
      path: QUEUE_DASHBOARD_PATH,
      errors: "api",
      auth: adminAuthentication(services, "basic"),
      app: queueDashboard(services),
    }),
  ];
}
