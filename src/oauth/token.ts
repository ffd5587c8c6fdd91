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
import { buildGrants, type Grant, type TokenResponse } from "./grants/index.js";

export const TOKEN_PATH = "/oauth/token";

function allowAnyOrigin(res: Response): void {
  res.setHeader("Access-Control-Allow-Origin", "*");
}

/** RFC 6749 §5.1: token responses, and errors, are never cached. */
function forbidCaching(res: Response): void {
  res.setHeader("Cache-Control", "no-store");
  res.setHeader("Pragma", "no-cache");
}

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

function writeTokenResponse(res: Response, tokens: TokenResponse): void {
  res.status(200).json(tokens);
}

export function tokenRouter(services: Services): Router {
  const grants = buildGrants();
  const router = Router();

  router.options(TOKEN_PATH, (_req, res) => {
    allowAnyOrigin(res);
    res.setHeader("Access-Control-Allow-Methods", "POST");
    res.setHeader("Access-Control-Allow-Headers", "Authorization, Content-Type");
    res.setHeader("Access-Control-Max-Age", "600");
    res.status(204).end();
  });

  router.post(TOKEN_PATH, async (req: Request, res: Response) => {
    allowAnyOrigin(res);
    forbidCaching(res);
    const form = await readForm(req);
    const grantType = grantTypeOf(form);
    const { client, method } = await authenticateClient(services, req, form);
    const grant = findGrant(grants, grantType);
    checkClientMayUse(client, grant);
    const tokens = await grant.handle({ services, client, authMethod: method, params: pickParameters(form, grant.parameters), requestId: req.id === undefined ? undefined : String(req.id) });
    writeTokenResponse(res, tokens);
  });

  router.all(TOKEN_PATH, (_req: Request, res: Response, next: NextFunction) => {
    allowAnyOrigin(res);
    next(new MethodNotAllowed("the token endpoint accepts POST only", { headers: { Allow: "POST, OPTIONS" } }));
  });

  return router;
}
