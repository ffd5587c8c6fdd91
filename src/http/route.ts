/**
 * What a route of the broker is, as the route table (src/routes.ts) declares
 * it: one method on one path, with everything the HTTP layer does around the
 * handler said once, here, instead of by path prefixes or per handler:
 *
 * - `errors`: how a failure is answered — RFC 6749 §5.2 JSON (`oauth`), the
 *   broker's API JSON with `request_id` (`api`), or an HTML page (`page`);
 * - `auth`: who may call, checked before the handler, which gets the result;
 * - `rateLimit`: the counters a request falls in (src/http/rate-limit.ts);
 * - `cors`: open to scripts of any origin, without cookies;
 * - `lane`: `direct` routes are answered straight from Node's HTTP server
 *   (find-my-way), the others by express. The lane changes who dispatches,
 *   not what is done: both run the same pipeline (src/http/pipeline.ts).
 *   Only measured hot paths are direct (docs/architecture.md says why).
 *
 * The HTTP layer knows no feature path: features give handlers,
 * authenticators and rate-limit classes; the table puts them together.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Request, RequestHandler, Response } from "express";
import type { Logger } from "../log.js";

/** `ANY`: every method (the proxy forwards whatever the app sends). */
export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "ANY";

/** How a failure is answered (src/http/error-handler.ts renders each). */
export type ErrorStyle = "oauth" | "api" | "page";

/**
 * Who may call a route. `authenticate` throws the refusal (an error the
 * route's style renders) or returns what the handler gets as `caller`.
 */
export interface Authenticator<C> {
  /** How the route table and the docs name it: `public`, `client`, `bearer accounts:read`, `admin`… */
  readonly name: string;
  authenticate(req: IncomingMessage, params: Readonly<Record<string, string>>): Promise<C> | C;
}

/** The counters of one rate-limited group of routes (its own per-address and per-client budget). */
export interface RateLimitClass {
  /** Its name in the Redis keys: routes of one class share their counters. */
  readonly name: string;
  /** The client_id a request claims, read before authentication, for the per-client counter. */
  claimedClientId?(req: IncomingMessage): Promise<string | undefined> | string | undefined;
}

/** One request on a route, whichever lane answers it. */
export interface Exchange<C = unknown, Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse> {
  req: Req;
  res: Res;
  /** The broker's id of this request (`X-Request-Id`). */
  requestId: string;
  /** When the request arrived (`process.hrtime.bigint()`), for durations. */
  startedAt: bigint;
  /** The request's logger: its lines carry the request. */
  readonly log: Logger;
  /** Path parameters, percent-decoded. */
  params: Readonly<Record<string, string>>;
  /** Routes ending in `/*`: what follows, still percent-encoded, with the query (`/` when nothing follows). */
  rest: string;
  /** What the route's authenticator returned. */
  caller: C;
}

/** An exchange answered by express: express's request and response, with their helpers. */
export type ExpressExchange<C = unknown> = Exchange<C, Request, Response>;

interface RouteCommon<C> {
  method: Method;
  /** express syntax: `/v1/accounts/:id`; a final `/*` takes everything below (and the path itself). */
  path: string;
  errors: ErrorStyle;
  auth: Authenticator<C>;
  rateLimit?: RateLimitClass;
  /** Open to scripts of any origin (no cookies): `Access-Control-Allow-Origin: *` on every answer, preflights answered. */
  cors?: boolean;
  /** No completion line in the log (health probes). */
  quiet?: boolean;
}

export interface DirectRoute<C = unknown> extends RouteCommon<C> {
  lane: "direct";
  handle(exchange: Exchange<C>): Promise<void> | void;
}

export interface ExpressRoute<C = unknown> extends RouteCommon<C> {
  lane: "express";
  /** The body parser the route wants (URL-encoded form, JSON); none reads the body otherwise. */
  body?: "form" | "json";
  handle(exchange: ExpressExchange<C>): Promise<void> | void;
}

/** An express application served as a whole under a path, for every method (the queue dashboard). */
export interface MountedApp<C = unknown> extends Omit<RouteCommon<C>, "method"> {
  lane: "mount";
  app: RequestHandler;
}

export type Route<C = unknown> = DirectRoute<C> | ExpressRoute<C> | MountedApp<C>;

/**
 * Declares a route with its caller's type checked against its handler's
 * (the table holds routes of every caller type).
 */
export function route<C>(declared: Route<C>): Route<unknown> {
  return declared as Route<unknown>;
}

/** What the table and the matrix test call a route: `POST /oauth/token`, `ANY /admin/queues/*`. */
export function routeKey(r: Route<unknown>): string {
  // A mounted application answers every method on everything under its path.
  return r.lane === "mount" ? `ANY ${r.path}/*` : `${r.method} ${r.path}`;
}

/** A route anyone may call: the handler gets no caller. */
export const PUBLIC: Authenticator<undefined> = { name: "public", authenticate: () => undefined };

/**
 * A page of the end user's browser: nothing to authenticate up front; the
 * page checks its own cookie-bound session and CSRF token.
 */
export const BROWSER: Authenticator<undefined> = { name: "browser session", authenticate: () => undefined };

export type { IncomingMessage, ServerResponse };
