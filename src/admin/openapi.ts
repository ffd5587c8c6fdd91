/**
 * The OpenAPI 3.1 document of the admin API, generated from the route table
 * (zod 4's JSON Schema output is JSON Schema 2020-12, which OpenAPI 3.1 uses).
 */
import { z } from "zod";
import type { AdminOperation } from "./route-table.js";

const errorSchema = {
  type: "object",
  required: ["error", "error_description"],
  properties: { error: { type: "string" }, error_description: { type: "string" }, request_id: { type: "string" } },
};

function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
}

function parameters(schema: z.ZodType | undefined, where: "path" | "query"): Record<string, unknown>[] {
  if (!schema) return [];
  const json = jsonSchema(schema, "input") as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === "path" || (json.required ?? []).includes(name),
    schema: property,
  }));
}

export function buildOpenApiDocument(operations: AdminOperation[], issuer: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const path = `/admin/v1${op.path}`;
    paths[path] ??= {};
    paths[path][op.method] = {
      operationId: op.operationId,
      summary: op.summary,
      tags: [op.tag],
      parameters: [...parameters(op.params, "path"), ...parameters(op.query, "query")],
      ...(op.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(op.body, "input") } } } } : {}),
      responses: {
        [String(op.status ?? 200)]: { description: "success", content: { "application/json": { schema: jsonSchema(op.response, "output") } } },
        "400": { description: "invalid request", content: { "application/json": { schema: errorSchema } } },
        "401": { description: "missing or invalid admin credentials", content: { "application/json": { schema: errorSchema } } },
        "404": { description: "not found", content: { "application/json": { schema: errorSchema } } },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "authbroker admin API",
      version: "1",
      description:
        "Operator API of authbroker. Authenticate with `Authorization: Bearer <BROKER_ADMIN_TOKEN>` or an app's client-credentials token with scope `admin`.",
    },
    servers: [{ url: issuer }],
    security: [{ adminToken: [] }],
    components: { securitySchemes: { adminToken: { type: "http", scheme: "bearer" } } },
    paths,
  };
}
