/**
 * Initial access tokens (RFC 7591 §3) for BROKER_DYNAMIC_REGISTRATION=token:
 * made by the operator (`authbroker registration-tokens create`, the admin
 * API), each with an optional expiry and number of uses, stored as SHA-256
 * only and shown once. A registration spends one use, atomically, so a token
 * for one use registers one client however many requests race.
 */
import type { Db } from "../db.js";
import { generateId, generateSecret, hashSecret } from "../crypto/secrets.js";
import { InvalidToken, NotFound, ValidationFailed } from "../errors.js";
import type { RegistrationToken } from "../generated/prisma/client.js";

/** The longest a registration token may live: a year. */
export const MAX_REGISTRATION_TOKEN_SECONDS = 31_536_000;
/** The most uses one token may be given. */
export const MAX_REGISTRATION_TOKEN_USES = 1_000_000;

/** What may be shown of a token (never the token or its hash). */
export function registrationTokenView(row: RegistrationToken) {
  return {
    id: row.id,
    uses: row.uses,
    max_uses: row.maxUses,
    expires_at: row.expiresAt?.toISOString() ?? null,
    revoked_at: row.revokedAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
  };
}
export type RegistrationTokenView = ReturnType<typeof registrationTokenView>;

/** Makes a token; returns it once, with its view. */
export async function createRegistrationToken(
  db: Db,
  options: { expiresInSeconds?: number; maxUses?: number } = {},
): Promise<{ token: string; view: RegistrationTokenView }> {
  const { expiresInSeconds, maxUses } = options;
  if (expiresInSeconds !== undefined && (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_REGISTRATION_TOKEN_SECONDS))
    throw new ValidationFailed(`the lifetime must be a whole number of seconds from 1 to ${MAX_REGISTRATION_TOKEN_SECONDS}`);
  if (maxUses !== undefined && (!Number.isInteger(maxUses) || maxUses < 1 || maxUses > MAX_REGISTRATION_TOKEN_USES))
    throw new ValidationFailed(`the number of uses must be a whole number from 1 to ${MAX_REGISTRATION_TOKEN_USES}`);
  const token = generateSecret("abr_");
  const row = await db.registrationToken.create({
    data: {
      id: generateId("rtk", 9),
      tokenHash: hashSecret(token),
      maxUses: maxUses ?? null,
      expiresAt: expiresInSeconds === undefined ? null : new Date(Date.now() + expiresInSeconds * 1000),
    },
  });
  return { token, view: registrationTokenView(row) };
}

export async function listRegistrationTokens(db: Db): Promise<RegistrationTokenView[]> {
  return (await db.registrationToken.findMany({ orderBy: { createdAt: "asc" } })).map(registrationTokenView);
}

/** Revokes a token at once; revoking it again changes nothing. */
export async function revokeRegistrationToken(db: Db, id: string): Promise<RegistrationTokenView> {
  const row = await db.registrationToken.findUnique({ where: { id } });
  if (!row) throw new NotFound(`registration token ${id} does not exist`);
  if (row.revokedAt) return registrationTokenView(row);
  return registrationTokenView(await db.registrationToken.update({ where: { id }, data: { revokedAt: new Date() } }));
}

/** RFC 6750 §3: how a refused initial access token is answered. */
function refused(description: string): InstanceType<typeof InvalidToken> {
  return new InvalidToken(description, { headers: { "WWW-Authenticate": `Bearer error="invalid_token", error_description="${description}"` } });
}

/**
 * Spends one use of the token presented as `Authorization: Bearer <token>`;
 * returns the token's id (for the audit). One conditional update: not
 * revoked, not expired, uses left.
 */
export async function spendRegistrationToken(db: Db, authorization: string | undefined): Promise<string> {
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(authorization ?? "");
  if (!match) throw refused("registration needs an initial access token: Authorization: Bearer <token>");
  const tokenHash = hashSecret(match[1]!);
  const { count } = await db.registrationToken.updateMany({
    where: {
      tokenHash,
      revokedAt: null,
      AND: [
        { OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] },
        { OR: [{ maxUses: null }, { uses: { lt: db.registrationToken.fields.maxUses } }] },
      ],
    },
    data: { uses: { increment: 1 } },
  });
  const row = await db.registrationToken.findUnique({ where: { tokenHash } });
  if (row && count === 1) return row.id;
  if (!row) throw refused("the initial access token is not valid");
  if (row.revokedAt) throw refused("the initial access token was revoked");
  if (row.maxUses !== null && row.uses >= row.maxUses) throw refused("the initial access token has no uses left");
  throw refused("the initial access token has expired");
}
