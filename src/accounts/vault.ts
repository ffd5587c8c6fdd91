/**
 * The credential vault: an account's upstream credentials, sealed field by
 * field (associated data = account id + column, so a ciphertext moved to
 * another account or column does not open). Only the vault and the auth
 * kind that produced them ever see the plaintext.
 */
import type { Keyring } from "../crypto/keyring.js";
import { sealedField } from "../crypto/sealed-fields.js";
import { Prisma } from "../generated/prisma/client.js";
import { sqlRows, type Db, type SqlStatement } from "../db.js";
import type { ExpirySource } from "../connectors/token-expiry.js";

/** Upstream tokens as an auth kind returns them. */
export interface StoredTokens {
  accessToken?: string;
  refreshToken?: string;
  idToken?: string;
  tokenType?: string;
  expiresAt?: Date;
  /** Where `expiresAt` came from (kept on the account, not with the sealed credentials). */
  expirySource?: ExpirySource;
  scope?: string;
  /** basic / api_key: the fields the user typed. */
  fields?: Record<string, string>;
  /** The connector's `values` the upstream handed out (Salesforce's instance URL): not secret, kept in clear beside the sealed tokens. */
  values?: Record<string, string>;
}

type CredentialWriter = Pick<Db, "credential"> | Prisma.TransactionClient;

const DbNull = Prisma.DbNull;

const field = (column: string) => sealedField("credential", column);

/**
 * Writes an account's credentials. Returns the new credential version.
 * With `keepRefreshToken`, a refresh response without a new refresh token
 * keeps the old one (RFC 6749 §6: the server MAY issue a new one).
 */
export async function storeCredentials(
  db: CredentialWriter,
  keyring: Keyring,
  accountId: string,
  tokens: StoredTokens,
  options: { keepRefreshToken?: boolean } = {},
): Promise<number> {
  const seal = (column: string, value: string | undefined) => (value === undefined ? null : keyring.seal(value, { rowId: accountId, field: field(column) }));
  const data = {
    tokenType: tokens.tokenType ?? null,
    sealedAccessToken: seal("sealedAccessToken", tokens.accessToken),
    sealedIdToken: seal("sealedIdToken", tokens.idToken),
    sealedFields: tokens.fields ? keyring.sealJson(tokens.fields, { rowId: accountId, field: field("sealedFields") }) : null,
    expiresAt: tokens.expiresAt ?? null,
    scope: tokens.scope ?? null,
    upstreamValues: tokens.values ?? DbNull,
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
export async function storeRefreshedCredentials(
  db: CredentialWriter,
  keyring: Keyring,
  accountId: string,
  expectedVersion: number,
  tokens: StoredTokens,
): Promise<number | undefined> {
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
export async function readCredentials(
  db: Pick<Db, "credential">,
  keyring: Keyring,
  accountId: string,
): Promise<(StoredTokens & { version: number }) | undefined> {
  const row = await db.credential.findUnique({ where: { accountId } });
  if (!row) return undefined;
  const open = (column: string, value: string | null) => (value === null ? undefined : keyring.open(value, { rowId: accountId, field: field(column) }));
  return {
    version: row.version,
    accessToken: open("sealedAccessToken", row.sealedAccessToken),
    refreshToken: open("sealedRefreshToken", row.sealedRefreshToken),
    idToken: open("sealedIdToken", row.sealedIdToken),
    fields:
      row.sealedFields === null ? undefined : keyring.openJson<Record<string, string>>(row.sealedFields, { rowId: accountId, field: field("sealedFields") }),
    tokenType: row.tokenType ?? undefined,
    expiresAt: row.expiresAt ?? undefined,
    scope: row.scope ?? undefined,
    ...(row.upstreamValues !== null ? { values: row.upstreamValues as Record<string, string> } : {}),
  };
}

/** What the refresh path needs of an account: the row's refresh-relevant columns and its opened credentials. */
export interface RefreshState {
  account: {
    id: string;
    appId: string;
    connectorId: string;
    status: string;
    hostname: string;
    pinnedAddress: string | null;
    scopes: string[];
    userId: string | null;
  };
  /** Undefined when the account has no credential row. */
  credentials: (StoredTokens & { version: number }) | undefined;
}

interface CredentialRow {
  version: number | null;
  tokenType: string | null;
  sealedAccessToken: string | null;
  sealedRefreshToken: string | null;
  sealedIdToken: string | null;
  sealedFields: string | null;
  expiresAtMs: number | null;
  scope: string | null;
  upstreamValues: Record<string, string> | null;
}

/** The credential columns as sqlRows reads them: times as epoch milliseconds (db.ts sqlRows says why). */
const CREDENTIAL_COLUMNS = `c."version", c."tokenType", c."sealedAccessToken", c."sealedRefreshToken", c."sealedIdToken", c."sealedFields",
       (extract(epoch FROM c."expiresAt") * 1000)::float8 AS "expiresAtMs", c."scope", c."upstreamValues"`;

const READ_REFRESH_STATE: SqlStatement = {
  name: "vault-read-refresh-state",
  text: `
  SELECT a."id", a."appId", a."connectorId", a."status"::text AS "status", a."hostname", a."pinnedAddress", a."scopes", a."userId",
         ${CREDENTIAL_COLUMNS}
    FROM "Account" a LEFT JOIN "Credential" c ON c."accountId" = a."id"
   WHERE a."id" = $1`,
};

const READ_CREDENTIALS: SqlStatement = { name: "vault-read-credentials", text: `SELECT ${CREDENTIAL_COLUMNS} FROM "Credential" c WHERE c."accountId" = $1` };

function openRow(keyring: Keyring, accountId: string, row: CredentialRow): StoredTokens & { version: number } {
  const open = (column: string, value: string | null) => (value === null ? undefined : keyring.open(value, { rowId: accountId, field: field(column) }));
  return {
    version: row.version!,
    accessToken: open("sealedAccessToken", row.sealedAccessToken),
    refreshToken: open("sealedRefreshToken", row.sealedRefreshToken),
    idToken: open("sealedIdToken", row.sealedIdToken),
    fields:
      row.sealedFields === null ? undefined : keyring.openJson<Record<string, string>>(row.sealedFields, { rowId: accountId, field: field("sealedFields") }),
    tokenType: row.tokenType ?? undefined,
    expiresAt: row.expiresAtMs === null ? undefined : new Date(row.expiresAtMs),
    scope: row.scope ?? undefined,
    ...(row.upstreamValues !== null ? { values: row.upstreamValues } : {}),
  };
}

/**
 * An account and its opened credentials in one statement, straight through
 * pg (the hot reads of the refresh path and of the proxy's account cache:
 * db.ts sqlRows says why). Undefined when the account does not exist.
 */
export async function readRefreshState(db: Db, keyring: Keyring, accountId: string): Promise<RefreshState | undefined> {
  const [row] = await sqlRows<RefreshState["account"] & CredentialRow>(db, READ_REFRESH_STATE, [accountId]);
  if (!row) return undefined;
  const { id, appId, connectorId, status, hostname, pinnedAddress, scopes, userId } = row;
  return {
    account: { id, appId, connectorId, status, hostname, pinnedAddress, scopes, userId },
    credentials: row.version === null ? undefined : openRow(keyring, accountId, row),
  };
}

/** `readCredentials` straight through pg, for the refresh path's re-read under its lock. */
export async function readCredentialsFast(db: Db, keyring: Keyring, accountId: string): Promise<(StoredTokens & { version: number }) | undefined> {
  const [row] = await sqlRows<CredentialRow>(db, READ_CREDENTIALS, [accountId]);
  return row ? openRow(keyring, accountId, row) : undefined;
}

/**
 * Stores refreshed credentials and the account's mirror of them (version,
 * expiry, last refresh, no error) in ONE statement, only if nobody stored
 * newer credentials since `current` was read (compare-and-set on the
 * version). Returns what is now stored — `current` with the new tokens on top,
 * exactly what a re-read would open — or undefined when the row moved on
 * (the caller must re-read, not overwrite). A refresh response without a
 * refresh token (or ID token, or scope) keeps the old one (RFC 6749 §6).
 * Times go in as epoch milliseconds, written as UTC like Prisma writes them.
 * `recovered`: the account had a refresh error before this write cleared it
 * (the one statement reads it as it was), so it works again.
 */
export async function storeRefreshResult(
  db: Db,
  keyring: Keyring,
  accountId: string,
  current: StoredTokens & { version: number },
  tokens: StoredTokens,
  now = Date.now(),
): Promise<{ credentials: StoredTokens & { version: number }; recovered: boolean } | undefined> {
  const seal = (column: string, value: string | undefined) => (value === undefined ? null : keyring.seal(value, { rowId: accountId, field: field(column) }));
  const version = current.version + 1;
  const rows = await sqlRows<{ version: number; recovered: boolean | null }>(db, STORE_REFRESH_RESULT, [
    accountId,
    current.version,
    tokens.tokenType ?? null,
    seal("sealedAccessToken", tokens.accessToken),
    seal("sealedRefreshToken", tokens.refreshToken),
    seal("sealedIdToken", tokens.idToken),
    tokens.expiresAt?.getTime() ?? null,
    tokens.scope ?? null,
    now,
    tokens.expirySource ?? null,
    tokens.values ? JSON.stringify(tokens.values) : null,
  ]);
  if (rows.length !== 1) return undefined;
  const credentials = {
    version,
    accessToken: tokens.accessToken ?? current.accessToken,
    refreshToken: tokens.refreshToken ?? current.refreshToken,
    idToken: tokens.idToken ?? current.idToken,
    fields: current.fields,
    tokenType: tokens.tokenType,
    expiresAt: tokens.expiresAt,
    scope: tokens.scope ?? current.scope,
    ...(current.values || tokens.values ? { values: { ...current.values, ...tokens.values } } : {}),
  };
  return { credentials, recovered: rows[0]!.recovered === true };
}

/**
 * $1 account, $2 expected version, $3 token type, $4–$6 sealed tokens (NULL: keep), $7 expiry ms, $8 scope (NULL: keep),
 * $9 now ms, $10 expiry source, $11 values read again (merged over the kept ones; NULL: keep).
 */
const STORE_REFRESH_RESULT: SqlStatement = {
  name: "vault-store-refresh-result",
  text: `
  WITH previous AS (
    SELECT "lastError" FROM "Account" WHERE "id" = $1
  ), stored AS (
    UPDATE "Credential"
       SET "tokenType" = $3,
           "sealedAccessToken" = COALESCE($4, "sealedAccessToken"),
           "sealedRefreshToken" = COALESCE($5, "sealedRefreshToken"),
           "sealedIdToken" = COALESCE($6, "sealedIdToken"),
           "expiresAt" = to_timestamp($7::float8 / 1000) AT TIME ZONE 'UTC',
           "scope" = COALESCE($8, "scope"),
           "upstreamValues" = CASE WHEN $11::jsonb IS NULL THEN "upstreamValues" ELSE COALESCE("upstreamValues", '{}'::jsonb) || $11::jsonb END,
           "version" = $2::int + 1,
           "updatedAt" = to_timestamp($9::float8 / 1000) AT TIME ZONE 'UTC'
     WHERE "accountId" = $1 AND "version" = $2::int
    RETURNING "version"
  ), mirrored AS (
    UPDATE "Account"
       SET "credentialVersion" = stored."version",
           "credentialExpiresAt" = to_timestamp($7::float8 / 1000) AT TIME ZONE 'UTC',
           "credentialExpirySource" = $10,
           "lastRefreshedAt" = to_timestamp($9::float8 / 1000) AT TIME ZONE 'UTC',
           "lastError" = NULL,
           "updatedAt" = to_timestamp($9::float8 / 1000) AT TIME ZONE 'UTC'
      FROM stored
     WHERE "Account"."id" = $1
  )
  SELECT stored."version", (SELECT "lastError" IS NOT NULL FROM previous) AS "recovered" FROM stored`,
};
