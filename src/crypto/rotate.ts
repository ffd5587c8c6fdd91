/**
 * `authbroker keys rotate`: re-seal every sealed value that is not under the
 * current key, then make a new token-signing key. After it completes, keys
 * other than the current one can be removed from BROKER_ENCRYPTION_KEYS.
 *
 * Each value is rewritten with a compare-and-set on its old ciphertext, so a
 * concurrent write (a refresh storing new tokens) is never overwritten with
 * stale data; such a row is already under the current key.
 */
import type { Db } from "../db.js";
import type { Keyring } from "./keyring.js";
import { SEALED_COLUMNS, sealedField } from "./sealed-fields.js";
import type { SigningKeys } from "./signing-keys.js";

export interface RotationProgress {
  column: string;
  resealed: number;
}

export interface RotationResult {
  resealed: number;
  byColumn: Record<string, number>;
  signingKid: string;
  previousSigningKid: string | undefined;
}

const BATCH = 500;

/**
 * The LIKE pattern of values sealed under a key id. Key ids may contain `_`,
 * a LIKE wildcard: unescaped, "k_1" would also match values under "kx1",
 * which would then never be re-sealed.
 */
function underKidPattern(kid: string): string {
  return `v1.${kid.replace(/[\\%_]/g, "\\$&")}.%`;
}

export async function resealAll(db: Db, keyring: Keyring, onProgress?: (p: RotationProgress) => void): Promise<Record<string, number>> {
  const byColumn: Record<string, number> = {};
  for (const { model, idColumn, column } of SEALED_COLUMNS) {
    const field = sealedField(model, column);
    const table = field.split(".")[0]!;
    let resealed = 0;
    let after = "";
    for (;;) {
      // Raw SQL keeps this generic over the table above; identifiers come from
      // that fixed table, values are parameters.
      const rows = await db.$queryRawUnsafe<{ id: string; sealed: string }[]>(
        `SELECT "${idColumn}" AS id, "${column}" AS sealed FROM "${table}"
         WHERE "${column}" IS NOT NULL AND "${column}" NOT LIKE $1 AND "${idColumn}" > $2
         ORDER BY "${idColumn}" LIMIT ${BATCH}`,
        underKidPattern(keyring.currentKid),
        after,
      );
      if (rows.length === 0) break;
      for (const row of rows) {
        const context = { rowId: row.id, field };
        const resealedValue = keyring.seal(keyring.open(row.sealed, context), context);
        resealed += await db.$executeRawUnsafe(
          `UPDATE "${table}" SET "${column}" = $1 WHERE "${idColumn}" = $2 AND "${column}" = $3`,
          resealedValue,
          row.id,
          row.sealed,
        );
      }
      after = rows[rows.length - 1]!.id;
      onProgress?.({ column: field, resealed });
    }
    byColumn[field] = resealed;
  }
  return byColumn;
}

/** Count of sealed values not yet under the current key (0 after a rotation). */
export async function countStale(db: Db, keyring: Keyring): Promise<number> {
  let total = 0;
  for (const { model, column } of SEALED_COLUMNS) {
    const table = sealedField(model, column).split(".")[0]!;
    const [row] = await db.$queryRawUnsafe<{ n: bigint }[]>(
      `SELECT count(*) AS n FROM "${table}" WHERE "${column}" IS NOT NULL AND "${column}" NOT LIKE $1`,
      underKidPattern(keyring.currentKid),
    );
    total += Number(row?.n ?? 0);
  }
  return total;
}

export async function rotateKeys(
  db: Db,
  keyring: Keyring,
  signingKeys: SigningKeys,
  options: { publishForSeconds: number; onProgress?: (p: RotationProgress) => void },
): Promise<RotationResult> {
  const byColumn = await resealAll(db, keyring, options.onProgress);
  const { kid, previousKid } = await signingKeys.rotate(options.publishForSeconds);
  return { resealed: Object.values(byColumn).reduce((a, b) => a + b, 0), byColumn, signingKid: kid, previousSigningKid: previousKid };
}
