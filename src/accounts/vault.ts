/**
 * The credential vault: an account's upstream credentials, sealed field by
 * field (associated data = account id + column, so a ciphertext moved to
 * another account or column does not open). Only the vault and the auth
 * kind that produced them ever see the plaintext.
 */
import type { Keyring } from "../crypto/keyring.js";
import { sealedField } from "../crypto/sealed-fields.js";
import type { Prisma } from "../generated/prisma/client.js";
import type { Db } from "../db.js";

/** Upstream tokens as an auth kind returns them. */
export interface StoredTokens {
  accessToken?: string;
  refreshToken?: string;
  idToken?: string;
  tokenType?: string;
  expiresAt?: Date;
  scope?: string;
  /** basic / api_key: the fields the user typed. */
  fields?: Record<string, string>;
}

type CredentialWriter = Pick<Db, "credential"> | Prisma.TransactionClient;

const field = (column: string) => sealedField("credential", column);

/**
 * Writes an account's credentials. Returns the new credential version.
 * With `keepRefreshToken`, a refresh response without a new refresh token
 * keeps the old one (RFC 6749 §6: the server MAY issue a new one).
 */
export async function storeCredentials(db: CredentialWriter, keyring: Keyring, accountId: string, tokens: StoredTokens, options: { keepRefreshToken?: boolean } = {}): Promise<number> {
  const seal = (column: string, value: string | undefined) => (value === undefined ? null : keyring.seal(value, { rowId: accountId, field: field(column) }));
  const data = {
    tokenType: tokens.tokenType ?? null,
    sealedAccessToken: seal("sealedAccessToken", tokens.accessToken),
    sealedIdToken: seal("sealedIdToken", tokens.idToken),
    sealedFields: tokens.fields ? keyring.sealJson(tokens.fields, { rowId: accountId, field: field("sealedFields") }) : null,
    expiresAt: tokens.expiresAt ?? null,
    scope: tokens.scope ?? null,
    ...(tokens.refreshToken !== undefined || !options.keepRefreshToken ? { sealedRefreshToken: seal("sealedRefreshToken", tokens.refreshToken) } : {}),
  };
  const row = await db.credential.upsert({
    where: { accountId },
    create: { accountId, ...data, sealedRefreshToken: data.sealedRefreshToken ?? null, version: 1 },
    update: { ...data, version: { increment: 1 } },
    select: { version: true },
  });
  return row.version;
}

/**
 * Stores refreshed credentials only if nobody stored newer ones since
 * `expectedVersion` was read (compare-and-set). Returns the new version, or
 * undefined when the row moved on (the caller must re-read, not overwrite).
 * A refresh response without a refresh token keeps the old one.
 */
export async function storeRefreshedCredentials(db: CredentialWriter, keyring: Keyring, accountId: string, expectedVersion: number, tokens: StoredTokens): Promise<number | undefined> {
  const seal = (column: string, value: string) => keyring.seal(value, { rowId: accountId, field: field(column) });
  const { count } = await db.credential.updateMany({
    where: { accountId, version: expectedVersion },
    data: {
      tokenType: tokens.tokenType ?? null,
      ...(tokens.accessToken !== undefined ? { sealedAccessToken: seal("sealedAccessToken", tokens.accessToken) } : {}),
      ...(tokens.refreshToken !== undefined ? { sealedRefreshToken: seal("sealedRefreshToken", tokens.refreshToken) } : {}),
      ...(tokens.idToken !== undefined ? { sealedIdToken: seal("sealedIdToken", tokens.idToken) } : {}),
      expiresAt: tokens.expiresAt ?? null,
      ...(tokens.scope !== undefined ? { scope: tokens.scope } : {}),
      version: expectedVersion + 1,
    },
  });
  return count === 1 ? expectedVersion + 1 : undefined;
}

/** Opens an account's credentials; undefined when it has none. */
export async function readCredentials(db: Pick<Db, "credential">, keyring: Keyring, accountId: string): Promise<(StoredTokens & { version: number }) | undefined> {
  const row = await db.credential.findUnique({ where: { accountId } });
  if (!row) return undefined;
  const open = (column: string, value: string | null) => (value === null ? undefined : keyring.open(value, { rowId: accountId, field: field(column) }));
  return {
    version: row.version,
    accessToken: open("sealedAccessToken", row.sealedAccessToken),
    refreshToken: open("sealedRefreshToken", row.sealedRefreshToken),
    idToken: open("sealedIdToken", row.sealedIdToken),
    fields: row.sealedFields === null ? undefined : keyring.openJson<Record<string, string>>(row.sealedFields, { rowId: accountId, field: field("sealedFields") }),
    tokenType: row.tokenType ?? undefined,
    expiresAt: row.expiresAt ?? undefined,
    scope: row.scope ?? undefined,
  };
}
