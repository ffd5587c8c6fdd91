/**
 * `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4, §3.5): the
 * device polls with its device code until the end user has connected an
 * account on the /device page (or refused, or the code expired).
 *
 * Each poll is recorded under the row lock (device-codes.ts recordPoll), so
 * `slow_down` and its longer interval hold across processes. Answers:
 * `authorization_pending` (wait), `slow_down` (wait 5 s longer, from now
 * on), `access_denied`, `expired_token`, or — once approved — the tokens,
 * issued exactly once: the code is consumed and its grant recorded in one
 * statement, and a code presented again revokes that grant, as a replayed
 * authorization code does.
 */
import { Prisma } from "../../db.js";
import { generateId, hashSecret } from "../../crypto/secrets.js";
import { AuthorizationPending, ExpiredToken, InvalidGrant, OAuthError, SlowDown } from "../../errors.js";
import type { Services } from "../../services.js";
import { recordPoll } from "../device-codes.js";
import { revokeFamily } from "../../revocation/revocation.js";
import { generateRefreshToken, refreshTokenLifetime } from "../tokens.js";
import {
  activeAccount,
  consumeIntoNewGrant,
  grantsRefreshToken,
  issueAccountTokens,
  NOW_UTC,
  requiredParameter,
  type GrantContext,
  type NewGrantRows,
  type TokenResponse,
} from "./grant.js";

export const grantType = "urn:ietf:params:oauth:grant-type:device_code";
export const parameters: ReadonlySet<string> = new Set(["device_code"]);

/** RFC 8628 §3.5 access_denied is a token-endpoint error (RFC 6749 §5.2: 400), not the 403 of a resource refusal. */
class DeviceAccessDenied extends OAuthError {
  constructor() {
    super(400, "access_denied", "the end user denied the authorization request");
  }
}

/** Consumes an approved code and records its grant (and refresh token) in one statement; returns whether this poll won. */
function consumeDeviceCode(services: Services, input: { deviceCodeHash: string } & NewGrantRows): Promise<boolean> {
  return consumeIntoNewGrant(
    services,
    Prisma.sql`UPDATE "DeviceCode" SET "status" = 'consumed', "familyId" = ${input.familyId}
       WHERE "deviceCodeHash" = ${input.deviceCodeHash} AND "status" = 'approved'
      RETURNING "appId", "accountId", "scope"`,
    input,
  );
}

async function refuseReplay(context: GrantContext, familyId: string | null): Promise<never> {
  if (familyId) await revokeFamily(context.services, familyId, "device code replayed", { requestId: context.requestId });
  throw new InvalidGrant("the device code has already been used");
}

export async function handle(context: GrantContext): Promise<TokenResponse> {
  const { services, client, params } = context;
  const deviceCodeHash = hashSecret(requiredParameter(params, "device_code"));
  const polled = await recordPoll(services.db, deviceCodeHash, client.id);
  if (!polled || polled.appId !== client.id) throw new InvalidGrant("the device code is not valid for this client");
  if (polled.status === "consumed") return refuseReplay(context, polled.familyId);
  if (polled.expired) throw new ExpiredToken("the device code has expired; start the device flow again");
  if (polled.status === "denied") throw new DeviceAccessDenied();
  if (polled.status === "pending") {
    if (polled.tooFast) throw new SlowDown("polling too often: wait 5 seconds longer between requests from now on");
    throw new AuthorizationPending("the end user has not connected an account yet");
  }

  const row = polled.accountId
    ? await services.db.account.findUnique({
        where: { id: polled.accountId },
        select: { id: true, appId: true, connectorId: true, hostname: true, profile: true, status: true },
      })
    : null;
  const account = activeAccount(row ?? undefined, client);
  const familyId = generateId("gr", 16);
  const refreshToken = grantsRefreshToken(client, polled.scope) ? generateRefreshToken() : undefined;
  const [tokens, won] = await Promise.all([
    issueAccountTokens({ services, client, account, scope: polled.scope, grantId: familyId }),
    consumeDeviceCode(services, {
      deviceCodeHash,
      familyId,
      refreshTokenHash: refreshToken?.tokenHash,
      refreshTokenTtl: refreshTokenLifetime(services.config.tokenLifetimeLimits, client),
    }),
  ]);
  if (!won) {
    const winner = await services.db.deviceCode.findUnique({ where: { deviceCodeHash }, select: { familyId: true } });
    return refuseReplay(context, winner?.familyId ?? null);
  }
  return refreshToken ? { ...tokens, refresh_token: refreshToken.refreshToken } : tokens;
}
