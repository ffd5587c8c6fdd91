/**
 * Who may use the operator surface (/admin/v1, /admin/queues, /metrics):
 * the holder of BROKER_ADMIN_TOKEN (Bearer, or as the password of Basic auth
 * so a browser can open the queue dashboard), or an app's client-credentials
 * token with scope `admin`. The static token is compared in constant time.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { Forbidden, Unauthorized } from "../errors.js";
import { bearerTokenOf, hasScope } from "../http/bearer.js";
import { verifyAccessToken } from "../oauth/tokens.js";
import type { Services } from "../services.js";

export interface AdminActor {
  actorType: "operator" | "app";
  actorId: string;
}

function sameSecret(presented: string, expected: string): boolean {
  // Hash both so the comparison is constant-time whatever the lengths.
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

function basicPassword(authorization: string | undefined): string | undefined {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(authorization ?? "");
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon === -1 ? undefined : decoded.slice(colon + 1);
}

/** Resolves the admin actor of a request, or throws 401/403. */
export async function authenticateAdmin(services: Pick<Services, "config" | "signingKeys" | "redis">, authorization: string | undefined): Promise<AdminActor> {
  const { adminToken } = services.config;
  const bearer = bearerTokenOf({ authorization });
  const password = basicPassword(authorization);
  if (adminToken && password !== undefined && sameSecret(password, adminToken)) return { actorType: "operator", actorId: "admin-token" };
  if (bearer === undefined) throw new Unauthorized("admin credentials are required", { headers: { "WWW-Authenticate": 'Bearer realm="authbroker-admin", Basic realm="authbroker-admin"' } });
  if (adminToken && sameSecret(bearer, adminToken)) return { actorType: "operator", actorId: "admin-token" };
  // Not the static token: it may be a broker JWT of an app with scope admin.
  if (bearer.split(".").length !== 3) throw new Unauthorized("invalid admin credentials", { headers: { "WWW-Authenticate": 'Bearer realm="authbroker-admin", error="invalid_token"' } });
  let claims;
  try {
    claims = await verifyAccessToken(services, bearer);
  } catch {
    throw new Unauthorized("invalid admin credentials", { headers: { "WWW-Authenticate": 'Bearer realm="authbroker-admin", error="invalid_token"' } });
  }
  if (claims.acct !== undefined || claims.sub !== claims.client_id || !hasScope(claims, "admin")) {
    throw new Forbidden("the token needs scope admin and must be an app's own (client_credentials) token");
  }
  return { actorType: "app", actorId: claims.client_id };
}

export function requireAdmin(services: Services): RequestHandler {
  return (req, res, next) => {
    authenticateAdmin(services, req.headers.authorization).then(
      (actor) => {
        res.locals.adminActor = actor;
        next();
      },
      (err: unknown) => {
        // A browser opening the dashboard gets the Basic prompt.
        next(err);
      },
    );
  };
}
