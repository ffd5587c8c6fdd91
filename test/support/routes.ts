/**
 * Every route a broker serves, as `METHOD /path` keys, read from the parts
 * the broker is assembled from (src/main.ts brokerRouters and the health
 * part): their direct routes and mounts, and the routes of their express
 * routers, walked recursively. The authorization matrix test checks each
 * one has a row, so a new endpoint cannot skip it.
 */
import type { Router } from "express";
import { healthRouter } from "../../src/http/health.js";
import type { HttpPart, RouterFactory } from "../../src/http/app.js";
import type { Services } from "../../src/services.js";

interface Layer {
  name: string;
  rawPath?: string | string[];
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
}

function asPart(made: Router | HttpPart): HttpPart {
  return typeof made === "function" ? { router: made } : made;
}

function paths(value: string | string[] | undefined): string[] {
  if (value === undefined) return [""];
  return Array.isArray(value) ? value : [value];
}

/** `prefix` joined with a route path as express matches it (no double slash, no trailing one). */
function joined(prefix: string, path: string): string {
  const full = `${prefix}${path === "/" ? "" : path}`;
  return full === "" ? "/" : full;
}

function walk(stack: Layer[], prefix: string, out: Set<string>, opaque: readonly string[]): void {
  for (const layer of stack) {
    if (layer.route) {
      for (const path of paths(layer.route.path)) {
        for (const method of Object.keys(layer.route.methods)) out.add(`${method === "_all" ? "ALL" : method.toUpperCase()} ${joined(prefix, path)}`);
      }
    } else {
      for (const path of paths(layer.rawPath)) {
        const mounted = joined(prefix, path);
        // A sub-application served as a whole (the queue dashboard): one entry for everything under it.
        if (opaque.includes(mounted)) out.add(`ANY ${mounted}/*`);
        else if (layer.name === "router" && layer.handle.stack) walk(layer.handle.stack, mounted === "/" ? "" : mounted, out, opaque);
      }
    }
  }
}

/**
 * The routes of a broker built from `factories` on `services`. `opaque`:
 * mount paths of sub-applications listed as one `ANY <path>/*` entry.
 */
export async function servedRoutes(services: Services, factories: RouterFactory[], opaque: readonly string[] = []): Promise<string[]> {
  const parts = [healthRouter(services), ...factories.map((factory) => asPart(factory(services)))];
  const out = new Set<string>();
  for (const part of parts) {
    for (const route of part.direct ?? []) out.add(`${route.method} ${route.path}`);
    for (const mount of part.mounts ?? []) out.add(`ANY ${mount.mount.source.replace(/\\\//g, "/").replace("([^/?]+)", ":id")}/*`);
    walk((part.router as unknown as { stack: Layer[] }).stack, "", out, opaque);
  }
  return [...out].sort();
}
