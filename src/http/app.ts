/**
 * The broker's request listener, assembled from the route table
 * (src/routes.ts): the direct lane first, then express for the rest. Both
 * run the same pipeline; see route.ts for what the table declares.
 */
import { directLane, type RequestListener } from "./direct-lane.js";
import { expressLane } from "./express-lane.js";
import type { HttpDeps } from "./pipeline.js";
import type { Route } from "./route.js";

export type { HttpDeps } from "./pipeline.js";
export type { RequestListener } from "./direct-lane.js";

export function createApp(routes: readonly Route<unknown>[], deps: HttpDeps): RequestListener {
  return directLane(routes, deps, expressLane(routes, deps));
}
