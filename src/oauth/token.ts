/**
 * `POST /oauth/token` (RFC 6749 §3.2, §5), as a few named steps: read the
 * form, authenticate the client, find the grant, check the client may use
 * it, run it, write the response. Grants (./grants/) only produce tokens;
 * every shared check lives here, so no grant can skip one. Errors are thrown
 * and rendered as RFC 6749 §5.2 JSON by the error handler.
 *
 * CORS: browser apps (public clients with PKCE) call this endpoint directly.
 * It is open to every origin without credentials: the request carries its
 * own proof (a code with its verifier, a refresh token, a client secret), so
 * cookies never matter here.
 */
import { Router, type NextFunction, type Request, type Response } from "express";
import { MethodNotAllowed, InvalidRequest, UnauthorizedClient, UnsupportedGrantType } from "../errors.js";
import type { Services } from "../services.js";
import { readForm, type FormParameters } from "./body.js";
import { authenticateClient } from "./client-auth.js";
import type { Client } from "./clients.js";
import { buildGrants, type Grant } from "./grants/index.js";
import { allowAnyOrigin, answerPreflight, forbidCaching } from "./back-channel.js";
import type { HttpPart } from "../http/app.js";
import type { DirectRoute } from "../http/direct-routes.js";
import { sendJson } from "../http/json.js";

export const TOKEN_PATH = "/oauth/token";

function grantTypeOf(form: FormParameters): string {
  const grantType = form.get("grant_type");
  if (grantType === undefined) throw new InvalidRequest("grant_type is missing");
  return grantType;
}

function findGrant(grants: ReadonlyMap<string, Grant>, grantType: string): Grant {
  const grant = grants.get(grantType);
  if (!grant) throw new UnsupportedGrantType(`grant_type "${grantType}" is not supported`);
  return grant;
}

/** RFC 6749 §5.2 unauthorized_client: the client is not registered for this grant. */
function checkClientMayUse(client: Client, grant: Grant): void {
  if (!client.grantTypes.includes(grant.grantType)) throw new UnauthorizedClient(`the client is not registered for the ${grant.grantType} grant`);
}

/** Only the grant's own parameters reach it (an allowlist, as in node-oidc-provider). */
function pickParameters(form: FormParameters, allowed: ReadonlySet<string>): ReadonlyMap<string, string> {
  const picked = new Map<string, string>();
  for (const name of allowed) {
    const value = form.get(name);
    if (value !== undefined) picked.set(name, value);
  }
  return picked;
}

/** `POST /oauth/token`, answered before express (src/http/direct-routes.ts: the broker's hottest endpoint). */
function tokenRoute(services: Services): DirectRoute {
  const grants = buildGrants();
  return {
    method: "POST",
    path: TOKEN_PATH,
    handle: async ({ req, res, requestId }) => {
      allowAnyOrigin(res);
      forbidCaching(res);
      const form = await readForm(req);
      const grantType = grantTypeOf(form);
      const { client, method } = await authenticateClient(services, req, form);
      const grant = findGrant(grants, grantType);
      checkClientMayUse(client, grant);
      const tokens = await grant.handle({ services, client, authMethod: method, params: pickParameters(form, grant.parameters), requestId });
      sendJson(res, 200, tokens);
    },
  };
}

export function tokenRouter(services: Services): HttpPart {
  const router = Router();
  router.options(TOKEN_PATH, (_req, res) => answerPreflight(res, "POST"));
  // POST is a direct route; every other method is refused here.
  router.all(TOKEN_PATH, (_req: Request, res: Response, next: NextFunction) => {
    allowAnyOrigin(res);
    next(new MethodNotAllowed("the token endpoint accepts POST only", { headers: { Allow: "POST, OPTIONS" } }));
  });
  return { router, direct: [tokenRoute(services)] };
}
