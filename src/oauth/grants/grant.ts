/**
 * The shape every grant module has: its `grant_type`, the
 * parameters it reads (an allowlist: the endpoint passes it nothing else),
 * and its handler. Client authentication, the check that the client may use
 * the grant, and writing the response belong to the token endpoint, so no
 * grant can forget them. Also the few steps the user-bound grants share.
 */
import { Prisma } from "../../db.js";
import { InvalidGrant, InvalidRequest } from "../../errors.js";
import type { Services } from "../../services.js";
import { isRegisteredFor, type Client, type ClientAuthMethod } from "../../apps/clients.js";
import type { IdentityAccount } from "../identity-claims.js";
import { hasScope } from "../scopes.js";
import { issueAccessToken, issueIdToken } from "../tokens.js";

/** RFC 6749 §5.1 successful response (and RFC 8693 §2.2.1 for token exchange). */
export interface TokenResponse {
  access_token: string;
  /** "Bearer" for broker tokens; an exchanged upstream token keeps its own type. */
  token_type: string;
  /** Absent only for an exchanged upstream token whose expiry the upstream never said. */
  expires_in?: number;
  scope?: string;
  refresh_token?: string;
  id_token?: string;
  /** RFC 8693 §2.2.1: what kind of token `access_token` is. */
  issued_token_type?: string;
}

export interface GrantContext {
  services: Services;
  /** The authenticated client. */
  client: Client;
  /** How it authenticated. */
  authMethod: ClientAuthMethod;
  /** The grant's own parameters (from `parameters`), absent when empty. */
  params: ReadonlyMap<string, string>;
  requestId: string | undefined;
}

export interface Grant {
  grantType: string;
  parameters: ReadonlySet<string>;
  handle(context: GrantContext): Promise<TokenResponse>;
}

/** A parameter the grant cannot work without (RFC 6749 §5.2 invalid_request when missing). */
export function requiredParameter(params: ReadonlyMap<string, string>, name: string): string {
  const value = params.get(name);
  if (value === undefined) throw new InvalidRequest(`${name} is missing`);
  return value;
}

/** The account a user-bound grant acts for, as the ID token and the access token need it. */
export type GrantAccount = IdentityAccount;

/** An account row as the grants' lookups return it (joined to the code or refresh token: no extra round trip). */
export interface AccountRow extends GrantAccount {
  appId: string;
  status: string;
}

/**
 * The account a code or refresh token was issued for, if it still may be
 * used: it exists, belongs to the client, and is `active` (an account that
 * needs re-authorization or was revoked gets no new tokens).
 */
export function activeAccount(account: AccountRow | undefined, client: Client): GrantAccount {
  if (!account || account.appId !== client.id) throw new InvalidGrant("the account of this grant no longer exists");
  if (account.status !== "active") throw new InvalidGrant(`the account of this grant is ${account.status}; the end user must connect it again`);
  return { id: account.id, connectorId: account.connectorId, hostname: account.hostname, profile: account.profile };
}

/** The database's current time as Prisma stores DateTime (UTC in `timestamp(3)`), whatever the session time zone. */
export const NOW_UTC_SQL = `(now() AT TIME ZONE 'UTC')`;
export const NOW_UTC = Prisma.raw(NOW_UTC_SQL);

export interface AccountTokensInput {
  services: Services;
  client: Client;
  account: GrantAccount;
  scope: string;
  grantId: string;
  /** RFC 8707: the resource the access token is for (`aud`); the issuer when absent. */
  audience?: string;
  /** For the ID token: the nonce of the authorization request, when there was one. */
  nonce?: string | null;
  authTime?: Date;
}

/** Access token (and ID token when `openid` was granted) for an account. Signing only: no I/O but the cached key. */
export async function issueAccountTokens(input: AccountTokensInput): Promise<Omit<TokenResponse, "refresh_token">> {
  const { services, client, account, scope } = input;
  const { accessToken, expiresIn } = await issueAccessToken(services, {
    client,
    subject: account.id,
    scope,
    accountId: account.id,
    connectorId: account.connectorId,
    grantId: input.grantId,
    audience: input.audience,
  });
  const response: Omit<TokenResponse, "refresh_token"> = { access_token: accessToken, token_type: "Bearer", expires_in: expiresIn, scope };
  if (hasScope(scope, "openid"))
    response.id_token = await issueIdToken(services, { client, account, scope, nonce: input.nonce, authTime: input.authTime, accessToken });
  return response;
}

/** Whether the client gets a refresh token for this scope (RFC 6749 §1.5, OIDC Core §11). */
export function grantsRefreshToken(client: Client, scope: string): boolean {
  return hasScope(scope, "offline_access") && isRegisteredFor(client, "refresh_token");
}

export interface NewGrantRows {
  familyId: string;
  /** SHA-256 of the first refresh token, when the grant gets one. */
  refreshTokenHash: string | undefined;
  refreshTokenTtl: number;
  /** RFC 8707: the resource of the grant's access tokens; absent: the broker itself. */
  resource?: string | null;
}

/**
 * Consumes a one-time credential (a code, an approved device code) and
 * records its grant — the refresh family and its first refresh token — in
 * one atomic statement. `consume` is an `UPDATE … RETURNING "appId",
 * "accountId", "scope"` whose WHERE clause only matches an unused credential:
 * of two concurrent uses, the second waits for the first's row lock,
 * re-checks, matches nothing and writes nothing. Returns whether this use won.
 */
export async function consumeIntoNewGrant(services: Services, consume: Prisma.Sql, grant: NewGrantRows): Promise<boolean> {
  const refreshToken = grant.refreshTokenHash
    ? Prisma.sql`, token AS (
        INSERT INTO "RefreshToken" ("tokenHash", "familyId", "expiresAt", "createdAt")
        SELECT ${grant.refreshTokenHash}, "id", ${NOW_UTC} + ${grant.refreshTokenTtl}::int * interval '1 second', ${NOW_UTC} FROM family
        RETURNING 1)`
    : Prisma.empty;
  const rows = await services.db.$queryRaw<{ won: number }[]>`
    WITH consumed AS (${consume}), family AS (
      INSERT INTO "RefreshFamily" ("id", "appId", "accountId", "scope", "resource", "createdAt")
      SELECT ${grant.familyId}, "appId", "accountId", "scope", ${grant.resource ?? null}::text, ${NOW_UTC} FROM consumed
      RETURNING "id"
    )${refreshToken}
    SELECT count(*)::int AS "won" FROM family`;
  return rows[0]?.won === 1;
}
