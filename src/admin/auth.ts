/**
 * Who may use the operator surface (/admin/v1, /admin/queues, /metrics):
 * the holder of BROKER_ADMIN_TOKEN (Bearer, or as the password of Basic auth
 * so a browser can open the queue dashboard), or an app's client-credentials
 * token with scope `admin` whose app still exists. The static token is
 * compared in constant time.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Authenticator } from "../http/route.js";
import { isInvalidToken, Forbidden, Unauthorized } from "../errors.js";
import { bearerTokenOf } from "../oauth/bearer.js";
import { hasScope } from "../oauth/scopes.js";
import { verifyAccessToken } from "../oauth/tokens.js";
import type { Services } from "../services.js";

export interface AdminActor {
  actorType: "operator" | "app";
  actorId: string;
}

/**
 * How a surface asks for credentials it did not get. The JSON API and the
 * metrics answer a Bearer challenge (RFC 6750 §3): their callers are
 * programs. The queue dashboard answers Basic alone (RFC 7617): a browser
 * asks its user for a password only for a challenge it can answer itself,
 * and Chromium ignores a header that offers Bearer beside Basic.
 */
export type AdminChallenge = "bearer" | "basic";

const REALM = 'realm="authbroker-admin"';

function unauthorized(description: string, challenge: AdminChallenge, error?: "invalid_token", cause?: unknown): InstanceType<typeof Unauthorized> {
  const header = challenge === "basic" ? `Basic ${REALM}, charset="UTF-8"` : `Bearer ${REALM}${error ? `, error="${error}"` : ""}`;
  return new Unauthorized(description, { headers: { "WWW-Authenticate": header }, ...(cause === undefined ? {} : { cause }) });
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

/** Resolves the admin actor of a request, or throws 401 (with `challenge`) or 403. */
export async function authenticateAdmin(
  services: Pick<Services, "config" | "signingKeys" | "redis" | "clients">,
  authorization: string | undefined,
  challenge: AdminChallenge = "bearer",
): Promise<AdminActor> {
  const { adminToken } = services.config;
  const bearer = bearerTokenOf({ authorization });
  const password = basicPassword(authorization);
  if (adminToken && password !== undefined && sameSecret(password, adminToken)) return { actorType: "operator", actorId: "admin-token" };
  if (bearer === undefined) throw unauthorized("admin credentials are required", challenge);
  if (adminToken && sameSecret(bearer, adminToken)) return { actorType: "operator", actorId: "admin-token" };
  // Not the static token: it may be a broker JWT of an app with scope admin.
  if (bearer.split(".").length !== 3) throw unauthorized("invalid admin credentials", challenge, "invalid_token");
  let claims;
  try {
    claims = await verifyAccessToken(services, bearer, "broker");
  } catch (err) {
    // A token refused is the caller's (401; why stays with the error, for the log). Anything else
    // is the broker's: with Redis unreachable the revocation check cannot run, and the answer is a
    // 503 (error-handler.ts), as on the proxy, never a 401 that sends the tooling for a new token.
    if (isInvalidToken(err)) throw unauthorized("invalid admin credentials", challenge, "invalid_token", err);
    throw err;
  }
  if (claims.acct !== undefined || claims.sub !== claims.client_id || !hasScope(claims.scope, "admin")) {
    throw new Forbidden("the token needs scope admin and must be an app's own (client_credentials) token");
  }
  // The revocation check already refuses a deleted app's tokens (revoked:client:<id>);
  // this holds too while Redis lacks that key (lost, not yet restored). A cached lookup.
  if (!(await services.clients.find(claims.client_id)))
    throw unauthorized("invalid admin credentials: the token's app no longer exists", challenge, "invalid_token");
  return { actorType: "app", actorId: claims.client_id };
}

/** The authenticator of the operator routes; `challenge` is how a refusal asks for credentials. */
export function adminAuthentication(
  services: Pick<Services, "config" | "signingKeys" | "redis" | "clients">,
  challenge: AdminChallenge,
): Authenticator<AdminActor> {
  return { name: challenge === "basic" ? "admin (Basic)" : "admin", authenticate: (req) => authenticateAdmin(services, req.headers.authorization, challenge) };
}
