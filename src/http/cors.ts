/**
 * CORS for the routes the table opens to scripts (browser apps call the
 * token, revocation and userinfo endpoints, discovery and the JWKS
 * directly): any origin, never with cookies — each request carries its own
 * credentials (a code and its verifier, a refresh token, a bearer token), so
 * no ambient authority can be borrowed. Every other route sends no CORS
 * header, and a browser keeps other sites' scripts from reading it.
 */
import type { ServerResponse } from "node:http";

/** On every answer of an open route, errors included: a script must read a 400, a 401 challenge or a 429's Retry-After. */
export function openToScripts(res: ServerResponse): void {
  res.setHeader("Access-Control-Allow-Origin", "*");
  res.setHeader("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After");
}

/** The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`) of an open route. */
export function answerPreflight(res: ServerResponse, methods: readonly string[]): void {
  openToScripts(res);
  res.setHeader("Access-Control-Allow-Methods", methods.join(", "));
  res.setHeader("Access-Control-Allow-Headers", "Authorization, Content-Type");
  res.setHeader("Access-Control-Max-Age", "600");
  res.statusCode = 204;
  res.end();
}
