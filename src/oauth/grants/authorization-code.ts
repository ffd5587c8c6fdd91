/**
 * `authorization_code` (RFC 6749 §4.1.3, PKCE RFC 7636, OIDC Core §3.1.3).
 * The code row was written by the connect flow when the end user finished
 * connecting an account: it names the client, account, redirect URI, scope,
 * PKCE challenge, nonce and resource (RFC 8707).
 *
 * Steps: find the code (with its account, one query), check it belongs to
 * this client, is unused and fresh, that redirect_uri and the PKCE verifier
 * match and the account is active; then, in ONE statement, consume the code
 * and record the grant (refresh family and token), and sign the tokens
 * meanwhile. Two round trips and one commit in all: every write of the
 * exchange shares one WAL flush, and the statement is atomic, so a code is
 * never consumed without its grant nor a grant recorded for a lost race.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Prisma } from "../../db.js";
import { generateId, hashSecret } from "../../crypto/secrets.js";
import { InvalidGrant } from "../../errors.js";
import type { Services } from "../../services.js";
import { requiresPkce, type Client } from "../../apps/clients.js";
import { revokeFamily } from "../../revocation/revocation.js";
import { generateRefreshToken, refreshTokenLifetime } from "../tokens.js";
import { checkSameResource, requireStillRegistered } from "../resource-indicators.js";
import {
  activeAccount,
  consumeIntoNewGrant,
  grantsRefreshToken,
  issueAccountTokens,
  NOW_UTC,
  requiredParameter,
  type AccountRow,
  type GrantContext,
  type NewGrantRows,
  type TokenResponse,
} from "./grant.js";

export const grantType = "authorization_code";
export const parameters: ReadonlySet<string> = new Set(["code", "redirect_uri", "code_verifier", "resource"]);

/** A code row with its account, as `findCode` reads it; times are compared in SQL. */
interface CodeRow {
  appId: string;
  redirectUri: string;
  scope: string;
  codeChallenge: string | null;
  codeChallengeMethod: string | null;
  nonce: string | null;
  /** RFC 8707: the resource its tokens are for; null: the broker itself. */
  resource: string | null;
  authTimeSeconds: number;
  expired: boolean;
  consumed: boolean;
  familyId: string | null;
  account: AccountRow | undefined;
}

/** RFC 7636 §4.1: code_verifier = 43*128unreserved. */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

async function findCode(services: Services, codeHash: string): Promise<CodeRow | undefined> {
  const rows = await services.db.$queryRaw<
    (Omit<CodeRow, "account"> & {
      accountId: string | null;
      accountAppId: string | null;
      connectorId: string | null;
      hostname: string | null;
      profile: unknown;
      status: string | null;
    })[]
  >`
    SELECT c."appId", c."redirectUri", c."scope", c."codeChallenge", c."codeChallengeMethod", c."nonce", c."resource",
           extract(epoch FROM c."authTime")::float8 AS "authTimeSeconds",
           c."expiresAt" <= ${NOW_UTC} AS "expired",
           c."consumedAt" IS NOT NULL AS "consumed",
           c."familyId",
           a."id" AS "accountId", a."appId" AS "accountAppId", a."connectorId", a."hostname", a."profile", a."status"::text AS "status"
      FROM "AuthorizationCode" c
      LEFT JOIN "Account" a ON a."id" = c."accountId"
     WHERE c."codeHash" = ${codeHash}`;
  const row = rows[0];
  if (!row) return undefined;
  const { accountId, accountAppId, connectorId, hostname, profile, status, ...code } = row;
  const account =
    accountId && accountAppId && connectorId && status
      ? { id: accountId, appId: accountAppId, connectorId, hostname: hostname ?? "", profile, status }
      : undefined;
  return { ...code, account };
}

/**
 * Consumes the code and records the grant in one atomic statement. Of two
 * concurrent exchanges, the second waits for the first's row lock, re-checks
 * `consumedAt IS NULL`, finds it set and writes nothing (RFC 6749 §4.1.2:
 * single use). Returns whether this exchange won.
 */
function consumeCode(services: Services, input: { codeHash: string } & NewGrantRows): Promise<boolean> {
  return consumeIntoNewGrant(
    services,
    Prisma.sql`UPDATE "AuthorizationCode" SET "consumedAt" = ${NOW_UTC}, "familyId" = ${input.familyId}
       WHERE "codeHash" = ${input.codeHash} AND "consumedAt" IS NULL
      RETURNING "appId", "accountId", "scope"`,
    input,
  );
}

/**
 * RFC 6749 §4.1.3: redirect_uri must be identical to the one of the
 * authorization request. The authorization request may omit it when the
 * app has exactly one registered URI; then the token request may too.
 */
function checkRedirectUri(code: CodeRow, client: Client, presented: string | undefined): void {
  if (presented === undefined) {
    const implied = client.redirectUris.length === 1 && client.redirectUris[0] === code.redirectUri;
    if (!implied) throw new InvalidGrant("redirect_uri is required and must be the one of the authorization request");
    return;
  }
  if (presented !== code.redirectUri) throw new InvalidGrant("redirect_uri differs from the one of the authorization request");
}

/** RFC 7636 §4.6 with S256 only; RFC 9700 §2.1.1 against PKCE downgrade; OAuth 2.1 §4.1.3: required unless the app opted out. */
function checkPkce(code: CodeRow, client: Client, verifier: string | undefined): void {
  if (!code.codeChallenge) {
    // A verifier for a code issued without a challenge means the challenge was
    // stripped from the authorization request: an attacker's downgrade.
    if (verifier !== undefined) throw new InvalidGrant("code_verifier was sent, but the code was issued without a code_challenge");
    if (requiresPkce(client)) throw new InvalidGrant("codes of this client must be bound to a PKCE challenge");
    return;
  }
  if (verifier === undefined) throw new InvalidGrant("code_verifier is required: the code was issued with a code_challenge");
  if (!CODE_VERIFIER.test(verifier)) throw new InvalidGrant("code_verifier is not 43-128 unreserved characters (RFC 7636 §4.1)");
  if (code.codeChallengeMethod !== "S256") throw new InvalidGrant("the code's challenge method is not supported");
  const computed = Buffer.from(createHash("sha256").update(verifier, "ascii").digest("base64url"));
  const expected = Buffer.from(code.codeChallenge);
  if (computed.length !== expected.length || !timingSafeEqual(computed, expected)) throw new InvalidGrant("code_verifier does not match the code_challenge");
}

/**
 * RFC 6749 §4.1.2: a code used twice is refused, and the tokens its first use
 * issued are revoked: one of the two users is not the client.
 */
async function refuseReplay(context: GrantContext, familyId: string | null): Promise<never> {
  if (familyId) await revokeFamily(context.services, familyId, "authorization code replayed", { requestId: context.requestId });
  throw new InvalidGrant("the authorization code has already been used");
}

export async function handle(context: GrantContext): Promise<TokenResponse> {
  const { services, client, params } = context;
  const codeHash = hashSecret(requiredParameter(params, "code"));
  const code = await findCode(services, codeHash);
  if (!code || code.appId !== client.id) throw new InvalidGrant("the authorization code is not valid for this client");
  if (code.consumed) return refuseReplay(context, code.familyId);
  if (code.expired) throw new InvalidGrant("the authorization code has expired");
  checkRedirectUri(code, client, params.get("redirect_uri"));
  checkPkce(code, client, params.get("code_verifier"));
  checkSameResource(code.resource, params.get("resource"), "authorization code");
  const account = activeAccount(code.account, client);
  await requireStillRegistered(services, code.resource);

  // Every exchange records a grant, so a replay can revoke the access tokens
  // of the first use even when no refresh token was issued.
  const familyId = generateId("gr", 16);
  const refreshToken = grantsRefreshToken(client, code.scope) ? generateRefreshToken() : undefined;
  // Signing needs no I/O; it runs while the grant is written.
  const [tokens, won] = await Promise.all([
    issueAccountTokens({
      services,
      client,
      account,
      scope: code.scope,
      grantId: familyId,
      audience: code.resource ?? undefined,
      nonce: code.nonce,
      authTime: new Date(code.authTimeSeconds * 1000),
    }),
    consumeCode(services, {
      codeHash,
      familyId,
      resource: code.resource,
      refreshTokenHash: refreshToken?.tokenHash,
      refreshTokenTtl: refreshTokenLifetime(services.config.tokenLifetimeLimits, client),
    }),
  ]);
  if (!won) {
    // A concurrent exchange of the same code got there first: this is a replay of it.
    const winner = await services.db.authorizationCode.findUnique({ where: { codeHash }, select: { familyId: true } });
    return refuseReplay(context, winner?.familyId ?? null);
  }
  return refreshToken ? { ...tokens, refresh_token: refreshToken.refreshToken } : tokens;
}
