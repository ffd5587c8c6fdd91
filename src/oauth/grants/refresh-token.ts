/**
 * `refresh_token` (RFC 6749 §6), rotated on every use (RFC 9700 §4.14.2):
 * each refresh token works once and is replaced by a new one in the same
 * family. A used token presented again means two parties hold the family
 * (one of them stole it), so the whole family is revoked, with every access
 * token issued under it.
 *
 * Two round trips: one query reads the token with its family and account,
 * one statement marks it used and writes its successor (atomic, so a
 * rotation never loses the family's only live token, and one commit).
 */
import { hashSecret } from "../../crypto/secrets.js";
import { sqlExecute, sqlRows } from "../../db.js";
import { InvalidGrant, InvalidScope } from "../../errors.js";
import type { Services } from "../../services.js";
import { revokeFamily } from "../revocation.js";
import { parseScope } from "../scopes.js";
import { generateRefreshToken, issueAccessToken } from "../tokens.js";
import { activeAccount, issueAccountTokens, NOW_UTC_SQL, requiredParameter, type AccountRow, type GrantContext, type TokenResponse } from "./grant.js";

export const grantType = "refresh_token";
export const parameters: ReadonlySet<string> = new Set(["refresh_token", "scope"]);

/** A refresh token with its family and account, as `findRefreshToken` reads it; times are compared in SQL. */
interface RefreshTokenRow {
  familyId: string;
  used: boolean;
  expired: boolean;
  appId: string;
  /** The family's scope: what the grant was given. */
  scope: string;
  revoked: boolean;
  /** Null for a grant without an end user; set but unmatched when the account is gone. */
  familyAccountId: string | null;
  account: AccountRow | undefined;
}

/** The lookup, in the shape pg returns it. */
type RefreshTokenQueryRow = Omit<RefreshTokenRow, "account"> & { accountId: string | null; accountAppId: string | null; connectorId: string | null; profile: unknown; status: string | null };

/** Times are compared in SQL, so no timestamp column is read (sqlRows returns pg's own conversions). */
const FIND_REFRESH_TOKEN = `
    SELECT t."familyId",
           t."usedAt" IS NOT NULL AS "used",
           t."expiresAt" <= ${NOW_UTC_SQL} AS "expired",
           f."appId", f."scope", f."revokedAt" IS NOT NULL AS "revoked", f."accountId" AS "familyAccountId",
           a."id" AS "accountId", a."appId" AS "accountAppId", a."connectorId", a."profile", a."status"::text AS "status"
      FROM "RefreshToken" t
      JOIN "RefreshFamily" f ON f."id" = t."familyId"
      LEFT JOIN "Account" a ON a."id" = f."accountId"
     WHERE t."tokenHash" = $1`;

async function findRefreshToken(services: Services, tokenHash: string): Promise<RefreshTokenRow | undefined> {
  // Straight through pg: the token endpoint's hottest query (db.ts sqlRows says why).
  const rows = await sqlRows<RefreshTokenQueryRow>(services.db, FIND_REFRESH_TOKEN, [tokenHash]);
  const row = rows[0];
  if (!row) return undefined;
  const { accountId, accountAppId, connectorId, profile, status, ...token } = row;
  const account = accountId && accountAppId && connectorId && status ? { id: accountId, appId: accountAppId, connectorId, profile, status } : undefined;
  return { ...token, account };
}

/**
 * Marks the presented token used and writes its successor, in one statement.
 * Of two concurrent uses, the second waits for the first's row lock, re-checks
 * `usedAt IS NULL`, finds it set and writes nothing. Returns whether this use won.
 */
const ROTATE = `
    WITH used AS (
      UPDATE "RefreshToken" SET "usedAt" = ${NOW_UTC_SQL}
       WHERE "tokenHash" = $1 AND "usedAt" IS NULL
      RETURNING "familyId"
    )
    INSERT INTO "RefreshToken" ("tokenHash", "familyId", "expiresAt", "createdAt")
    SELECT $2, "familyId", ${NOW_UTC_SQL} + $3::int * interval '1 second', ${NOW_UTC_SQL} FROM used`;

async function rotate(services: Services, input: { tokenHash: string; nextTokenHash: string; ttl: number }): Promise<boolean> {
  const written = await sqlExecute(services.db, ROTATE, [input.tokenHash, input.nextTokenHash, input.ttl]);
  return written === 1;
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
  const presented = await findRefreshToken(services, tokenHash);
  if (!presented || presented.appId !== client.id) throw new InvalidGrant("the refresh token is not valid for this client");
  if (presented.revoked) throw new InvalidGrant("the grant of this refresh token has been revoked");
  if (presented.used) return refuseReuse(context, presented.familyId);
  if (presented.expired) throw new InvalidGrant("the refresh token has expired");
  const scope = narrowScope(presented.scope, params.get("scope"));
  const account = presented.familyAccountId ? activeAccount(presented.account, client) : undefined;

  const next = generateRefreshToken();
  // Signing needs no I/O; it runs while the rotation is written.
  const [tokens, won] = await Promise.all([
    account
      ? issueAccountTokens({ services, client, account, scope, grantId: presented.familyId })
      : issueAccessToken(services, { client, subject: client.id, scope, grantId: presented.familyId }).then(({ accessToken, expiresIn }) => ({ access_token: accessToken, token_type: "Bearer" as const, expires_in: expiresIn, scope })),
    // The new token stays in the family, whose scope it keeps (RFC 6749 §6), whatever this request narrowed.
    rotate(services, { tokenHash, nextTokenHash: next.tokenHash, ttl: client.refreshTokenTtl }),
  ]);
  // Lost the race to a concurrent use of the same token: that is reuse too.
  if (!won) return refuseReuse(context, presented.familyId);
  return { ...tokens, refresh_token: next.refreshToken };
}
