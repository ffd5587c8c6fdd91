/**
 * The admin API as data: each operation declares its method, path, zod
 * schemas (path params, query, body, response) and handler. The same table
 * validates requests (router.ts) and produces the OpenAPI 3.1 document
 * (openapi.ts), so the two can never drift apart.
 */
import type { Request } from "express";
import type { z } from "zod";
import type { Services } from "../services.js";
import type { AdminActor } from "./auth.js";

export interface AdminContext {
  services: Services;
  actor: AdminActor;
  requestId: string | undefined;
  req: Request;
}

export interface AdminOperation<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
  R extends z.ZodType = z.ZodType,
> {
  operationId: string;
  method: "get" | "post" | "put" | "delete";
  /** OpenAPI-style path under /admin/v1, e.g. `/accounts/{id}`. */
  path: string;
  summary: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  response: R;
  /** HTTP status of a success. @defaultValue 200 */
  status?: number;
  handle(input: { params: z.infer<P>; query: z.infer<Q>; body: z.infer<B> }, context: AdminContext): Promise<z.infer<R>>;
}

/** Declares an operation with its types inferred from its schemas. */
export function operation<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, R extends z.ZodType>(op: AdminOperation<P, Q, B, R>): AdminOperation {
  return op as unknown as AdminOperation;
}
