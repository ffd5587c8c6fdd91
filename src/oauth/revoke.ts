/**
 * `POST /oauth/revoke` (RFC 7009): an app says it no longer needs a token.
 * Steps: authenticate the client, find the token, and — only if it is the
 * app's own — revoke it: an access token until it expires (its `jti`), a
 * refresh token with its whole grant, so every access token issued under
 * the grant stops working too (§2.1: "SHOULD also invalidate all access
 * tokens based on the same authorization grant").
 *
 * The answer is 200 whatever the token was — unknown, expired, already
 * revoked, another app's (§2.2: "invalid tokens do not cause an error
 * response"), so it tells nothing about tokens of other apps, and another
 * app's token is left alone.
 *
 * CORS is open: a browser app (public client) revokes its own tokens at logout.
 */
import { Router, type NextFunction, type Request, type Response } from "express";
import { InvalidRequest, MethodNotAllowed } from "../errors.js";
import type { Services } from "../services.js";
import { allowAnyOrigin, answerPreflight, forbidCaching, readAuthenticatedRequest } from "./back-channel.js";
import type { Client } from "./clients.js";
import { revokeAccessToken, revokeFamily } from "./revocation.js";
import type { HttpPart } from "../http/app.js";
import type { DirectRoute } from "../http/direct-routes.js";
import { findRefreshTokenState, lookupOrder, readAccessToken } from "./token-lookup.js";

export const REVOCATION_PATH = "/oauth/revoke";

/** Revokes `token` if it is one of `client`'s; returns what it was, for the log. */
export async function revokeToken(
  services: Services,
  client: Client,
  token: string,
  hint: string | undefined,
  requestId?: string,
): Promise<"access_token" | "refresh_token" | "foreign" | "unknown"> {
  for (const type of lookupOrder(hint)) {
    if (type === "access_token") {
      // Revocation needs no revocation check: revoking twice is harmless.
      const claims = await readAccessToken(services, token, { checkRevocation: false });
      if (!claims) continue;
      if (claims.client_id !== client.id) return "foreign";
      await revokeAccessToken(services.redis, claims);
      return "access_token";
    }
    const state = await findRefreshTokenState(services, token);
    if (!state) continue;
    if (state.appId !== client.id) return "foreign";
    await revokeFamily(services, state.familyId, "revoked by the app (RFC 7009)", { requestId });
    return "refresh_token";
  }
  return "unknown";
}

export function revocationRouter(services: Services): HttpPart {
  const router = Router();
  router.options(REVOCATION_PATH, (_req, res) => answerPreflight(res, "POST"));
  // POST is a direct route (src/http/direct-routes.ts); every other method is refused here.
  router.all(REVOCATION_PATH, (_req: Request, res: Response, next: NextFunction) => {
    allowAnyOrigin(res);
    next(new MethodNotAllowed("the revocation endpoint accepts POST only", { headers: { Allow: "POST, OPTIONS" } }));
  });
  const route: DirectRoute = {
    method: "POST",
    path: REVOCATION_PATH,
    handle: async ({ req, res, requestId, log }) => {
      allowAnyOrigin(res);
      forbidCaching(res);
      const { form, client } = await readAuthenticatedRequest(services, req);
      const token = form.get("token");
      if (token === undefined) throw new InvalidRequest("token is missing");
      const outcome = await revokeToken(services, client, token, form.get("token_type_hint"), requestId);
      log.info({ clientId: client.id, outcome }, "token revocation");
      res.statusCode = 200;
      res.end();
    },
  };
  return { router, direct: [route] };
}
