/**
 * `GET|POST /oauth/userinfo` (OIDC Core §5.3): the claims of the account an
 * access token with scope `openid` acts for — the same identity claims, for
 * the token's scope, as the ID token (identity-claims.ts).
 *
 * The token comes in the `Authorization: Bearer` header only (RFC 6750
 * §2.1; never in a query string, RFC 9700 §4.3.2). Failures carry the RFC
 * 6750 §3 `WWW-Authenticate` challenge: 401 `invalid_token` for a missing,
 * bad, expired or revoked token, 403 `insufficient_scope` without `openid`.
 * CORS is open (browser apps call it), and the challenge is readable.
 */
import { Router, type NextFunction, type Request, type Response } from "express";
import { InvalidToken, MethodNotAllowed, type OAuthError } from "../errors.js";
import { authenticateBearer, bearerChallenge } from "../http/bearer.js";
import type { Services } from "../services.js";
import { allowAnyOrigin, answerPreflight, forbidCaching } from "./back-channel.js";
import { identityClaims } from "./identity-claims.js";

export const USERINFO_PATH = "/oauth/userinfo";

function accountGone(): OAuthError {
  const description = "the account of this token no longer exists or was revoked";
  return new InvalidToken(description, { headers: bearerChallenge("invalid_token", description) });
}

async function userinfo(services: Services, req: Request, res: Response): Promise<void> {
  allowAnyOrigin(res);
  res.setHeader("Access-Control-Expose-Headers", "WWW-Authenticate");
  forbidCaching(res);
  const claims = await authenticateBearer(services, req.headers, ["openid"]);
  if (!claims.acct) throw accountGone();
  const account = await services.db.account.findUnique({
    where: { id: claims.acct },
    select: { id: true, appId: true, connectorId: true, hostname: true, profile: true, status: true },
  });
  if (!account || account.appId !== claims.client_id || account.status === "revoked") throw accountGone();
  res.json(identityClaims(account, claims.scope));
}

export function userinfoRouter(services: Services): Router {
  const router = Router();
  router.options(USERINFO_PATH, (_req, res) => answerPreflight(res, "GET, POST"));
  router.get(USERINFO_PATH, (req, res) => userinfo(services, req, res));
  router.post(USERINFO_PATH, (req, res) => userinfo(services, req, res));
  router.all(USERINFO_PATH, (_req: Request, res: Response, next: NextFunction) => {
    allowAnyOrigin(res);
    next(new MethodNotAllowed("the userinfo endpoint accepts GET and POST", { headers: { Allow: "GET, POST, OPTIONS" } }));
  });
  return router;
}
