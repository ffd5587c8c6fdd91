/**
 * Mounts the admin API from its route table (validation with the same zod
 * schemas the OpenAPI document is made of), the OpenAPI document, the
 * Prometheus metrics and the BullMQ dashboard — all behind admin auth.
 */
import express, { Router, type Request, type Response } from "express";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import type { z } from "zod";
import type { Services } from "../services.js";
import { ValidationFailed } from "../errors.js";
import { requireAdmin, type AdminActor } from "./auth.js";
import { ADMIN_OPERATIONS } from "./operations.js";
import { buildOpenApiDocument } from "./openapi.js";
import type { AdminOperation } from "./route-table.js";

export const ADMIN_PREFIX = "/admin/v1";

function validate<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.infer<T> | undefined {
  if (!schema) return undefined;
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationFailed(`${where}${issue.path.length ? `.${issue.path.join(".")}` : ""}: ${issue.message}`);
  }
  return parsed.data;
}

function mount(router: Router, services: Services, op: AdminOperation): void {
  const expressPath = op.path.replace(/\{(\w+)\}/g, ":$1");
  router[op.method](expressPath, async (req: Request, res: Response) => {
    if (op.body && !req.is("application/json")) throw new ValidationFailed("the body must be application/json");
    const input = {
      params: validate(op.params, req.params, "path"),
      query: validate(op.query, req.query, "query"),
      body: validate(op.body, req.body, "body"),
    };
    const result = await op.handle(input as never, { services, actor: res.locals.adminActor as AdminActor, requestId: req.id?.toString(), req });
    res.setHeader("Cache-Control", "no-store");
    res.status(op.status ?? 200).json(result);
  });
}

export function adminRouter(services: Services): Router {
  const router = Router();
  const guard = requireAdmin(services);

  const api = Router();
  api.use(guard, express.json({ limit: "64kb", strict: true }));
  const openapi = buildOpenApiDocument(ADMIN_OPERATIONS, services.config.issuer);
  api.get("/openapi.json", (_req, res) => {
    res.json(openapi);
  });
  for (const op of ADMIN_OPERATIONS) mount(api, services, op);
  router.use(ADMIN_PREFIX, api);

  router.get("/metrics", guard, async (_req, res) => {
    const counts = await services.queues.refresh.getJobCounts("wait", "delayed", "active", "failed").catch(() => undefined);
    if (counts) for (const [state, n] of Object.entries(counts)) services.metrics.queueDepth.set({ queue: "refresh", state }, n);
    res.setHeader("Content-Type", services.metrics.registry.contentType);
    res.send(await services.metrics.registry.metrics());
  });

  // The BullMQ dashboard, opened in a browser: Basic (any user, the admin token as password), and a Basic challenge alone so the browser prompts.
  const boardAdapter = new ExpressAdapter();
  boardAdapter.setBasePath("/admin/queues");
  createBullBoard({ queues: [new BullMQAdapter(services.queues.refresh), new BullMQAdapter(services.queues.webhooks)], serverAdapter: boardAdapter });
  router.use("/admin/queues", requireAdmin(services, "basic"), boardAdapter.getRouter() as Router);
  return router;
}
