/**
 * `refresh_token` (RFC 6749 §6), rotated on every use (RFC 9700 §4.14.2):
 * each refresh token works once and is replaced by a new one in the same
 * family. A used token presented again means two parties hold the family
 * (one of them stole it), so the whole family is revoked, with every access
 * token issued under it.
 *
 * One round trip: one statement reads the token with its family and account
 * and, when the request may have new tokens, marks it used and writes its
 * successor (atomic, so a rotation never loses the family's only live
 * token, and one commit).
 */
import { hashSecret } from "../../crypto/secrets.js";
import { sqlRows, type SqlStatement } from "../../db.js";
import { InvalidGrant, InvalidScope } from "../../errors.js";
import type { Services } from "../../services.js";
import { revokeFamily } from "../../revocation/revocation.js";
import { parseScope } from "../scopes.js";
import { checkSameResource, requireStillRegistered } from "../resource-indicators.js";
import { generateRefreshToken, issueAccessToken, refreshTokenLifetime } from "../tokens.js";
import { activeAccount, issueAccountTokens, NOW_UTC_SQL, requiredParameter, type AccountRow, type GrantContext, type TokenResponse } from "./grant.js";

export const grantType = "refresh_token";
export const parameters: ReadonlySet<string> = new Set(["refresh_token", "scope", "resource"]);

/** A refresh token with its family and account, as `findAndRotate` reads it; times are compared in SQL. */
interface RefreshTokenRow {
  familyId: string;
  used: boolean;
  expired: boolean;
  appId: string;
  /** The family's scope: what the grant was given. */
  scope: string;
  /** RFC 8707: the resource of the family's access tokens; null: the broker itself. */
  resource: string | null;
  revoked: boolean;
  /** Null for a grant without an end user; set but unmatched when the account is gone. */
  familyAccountId: string | null;
  account: AccountRow | undefined;
}

/** The statement's answer, in the shape pg returns it. */
type RefreshQueryRow = Omit<RefreshTokenRow, "account"> & {
  accountId: string | null;
  accountAppId: string | null;
  connectorId: string | null;
  hostname: string | null;
  profile: unknown;
  status: string | null;
  rotated: number;
};

/**
 * One statement, one round trip: reads the presented token with its family
 * and account, and, only if every check of `handle` passes, marks it used
 * and writes its successor. The checks are made twice on purpose: here, so
 * that a refused request never consumes the token, and in `handle`, which
 * says which one failed. Of two concurrent uses, the second waits for the
 * first's row lock, re-checks `usedAt IS NULL`, finds it set and writes
 * nothing (`rotated` 0): `handle` treats that as reuse. Times are compared in
 * SQL, so no timestamp column is read (sqlRows returns pg's own conversions).
 * $1 token hash, $2 client id, $3 successor's hash, $4 requested scopes (NULL:
 * unreadable, so nothing is written), $5 successor's lifetime in seconds, $6
 * the resource the request names (NULL: none; another than the family's: nothing is written).
 */
const FIND_AND_ROTATE: SqlStatement = {
  name: "refresh-token-find-and-rotate",
  text: `
    WITH found AS (
      SELECT t."familyId",
             t."usedAt" IS NOT NULL AS "used",
             t."expiresAt" <= ${NOW_UTC_SQL} AS "expired",
             f."appId", f."scope", f."resource", f."revokedAt" IS NOT NULL AS "revoked", f."accountId" AS "familyAccountId",
             a."id" AS "accountId", a."appId" AS "accountAppId", a."connectorId", a."hostname", a."profile", a."status"::text AS "status"
        FROM "RefreshToken" t
        JOIN "RefreshFamily" f ON f."id" = t."familyId"
        LEFT JOIN "Account" a ON a."id" = f."accountId"
       WHERE t."tokenHash" = $1
    ), used AS (
      UPDATE "RefreshToken" SET "usedAt" = ${NOW_UTC_SQL}
       WHERE "tokenHash" = $1 AND "usedAt" IS NULL
         AND EXISTS (
           SELECT 1 FROM found
            WHERE found."appId" = $2 AND NOT found."revoked" AND NOT found."expired"
              AND $4::text[] IS NOT NULL AND string_to_array(found."scope", ' ') @> $4::text[]
              AND ($6::text IS NULL OR found."resource" IS NOT DISTINCT FROM $6::text)
              AND (found."familyAccountId" IS NULL OR (found."accountAppId" = $2 AND found."connectorId" IS NOT NULL AND found."status" = 'active')))
      RETURNING "familyId"
    ), successor AS (
      INSERT INTO "RefreshToken" ("tokenHash", "familyId", "expiresAt", "createdAt")
      SELECT $3, "familyId", ${NOW_UTC_SQL} + $5::int * interval '1 second', ${NOW_UTC_SQL} FROM used
      RETURNING 1
    )
    SELECT found.*, (SELECT count(*) FROM successor)::int AS "rotated" FROM found`,
};

/** The requested scopes as the statement takes them: [] when none were asked for, null when unreadable. */
function requestedScopes(requested: string | undefined): string[] | null {
  try {
    return parseScope(requested);
  } catch {
    // Thrown again by narrowScope, after the checks that come first.
    return null;
  }
}

async function findAndRotate(
  services: Services,
  input: { tokenHash: string; clientId: string; nextTokenHash: string; requestedScopes: string[] | null; ttl: number; resource: string | undefined },
): Promise<(RefreshTokenRow & { rotated: boolean }) | undefined> {
  // Straight through pg: the token endpoint's hottest statement (db.ts sqlRows says why).
  const rows = await sqlRows<RefreshQueryRow>(services.db, FIND_AND_ROTATE, [
    input.tokenHash,
    input.clientId,
    input.nextTokenHash,
    input.requestedScopes,
    input.ttl,
    input.resource ?? null,
  ]);
  const row = rows[0];
  if (!row) return undefined;
  const { accountId, accountAppId, connectorId, hostname, profile, status, rotated, ...token } = row;
  const account =
    accountId && accountAppId && connectorId && status
      ? { id: accountId, appId: accountAppId, connectorId, hostname: hostname ?? "", profile, status }
      : undefined;
  return { ...token, account, rotated: rotated === 1 };
}

/** RFC 6749 §6: the requested scope may only narrow the one originally granted. */
function narrowScope(granted: string, requested: string | undefined): string {
  if (requested === undefined) return granted;
  const grantedScopes = new Set(granted.split(" "));
  const wanted = parseScope(requested);
  const extra = wanted.filter((s) => !grantedScopes.has(s));
  if (extra.length > 0) throw new InvalidScope(`scope exceeds the original grant: ${extra.join(" ")}`);
  return wanted.join(" ");
}

async function refuseReuse(context: GrantContext, familyId: string): Promise<never> {
  await revokeFamily(context.services, familyId, "refresh token reused", { requestId: context.requestId });
  throw new InvalidGrant("the refresh token has already been used; the grant is revoked");
}

export async function handle(context: GrantContext): Promise<TokenResponse> {
  const { services, client, params } = context;
  const tokenHash = hashSecret(requiredParameter(params, "refresh_token"));
  const next = generateRefreshToken();
  // The new token stays in the family, whose scope it keeps (RFC 6749 §6), whatever this request narrowed.
  const presented = await findAndRotate(services, {
    tokenHash,
    clientId: client.id,
    nextTokenHash: next.tokenHash,
    requestedScopes: requestedScopes(params.get("scope")),
    ttl: refreshTokenLifetime(services.config.tokenLifetimeLimits, client),
    resource: params.get("resource"),
  });
  if (!presented || presented.appId !== client.id) throw new InvalidGrant("the refresh token is not valid for this client");
  if (presented.revoked) throw new InvalidGrant("the grant of this refresh token has been revoked");
  if (presented.used) return refuseReuse(context, presented.familyId);
  if (presented.expired) throw new InvalidGrant("the refresh token has expired");
  checkSameResource(presented.resource, params.get("resource"), "refresh token");
  const scope = narrowScope(presented.scope, params.get("scope"));
  const account = presented.familyAccountId ? activeAccount(presented.account, client) : undefined;
  // Every check passed, yet nothing was written: a concurrent use of the same token won the row. That is reuse too.
  if (!presented.rotated) return refuseReuse(context, presented.familyId);
  await requireStillRegistered(services, presented.resource);
  const audience = presented.resource ?? undefined;

  const tokens = account
    ? await issueAccountTokens({ services, client, account, scope, grantId: presented.familyId, audience })
    : await issueAccessToken(services, { client, subject: client.id, scope, grantId: presented.familyId, audience }).then(({ accessToken, expiresIn }) => ({
        access_token: accessToken,
        token_type: "Bearer" as const,
        expires_in: expiresIn,
        scope,
      }));
  return { ...tokens, refresh_token: next.refreshToken };
}
