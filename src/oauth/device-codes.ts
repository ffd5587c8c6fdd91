/**
 * Device codes and user codes of the device authorization grant (RFC 8628).
 *
 * - The device code is the device's secret: 256 random bits, stored only as
 *   its SHA-256 (like every other broker secret).
 * - The user code is what a person types on another screen: 8 characters
 *   from 20 consonants (RFC 8628 §6.1: no vowels, so no words; no 0/O, 1/I
 *   confusion), shown as `XXXX-XXXX`, read case-insensitively and without
 *   punctuation. 20^8 ≈ 2^34.6 codes, live for ten minutes, and the /device
 *   page limits wrong guesses per address (RFC 8628 §5.1).
 * - A code moves pending → approved (the end user connected an account) or
 *   denied, then approved → consumed when the device redeems it. Polling
 *   state (`lastPolledAt`, `intervalSeconds`) is in the row, so `slow_down`
 *   holds across every `serve` process.
 */
import { randomInt } from "node:crypto";
import { Prisma, type Db } from "../db.js";
import { generateSecret, hashSecret } from "../crypto/secrets.js";
import { NOW_UTC } from "./grants/grant.js";

/** How long a device code and its user code live (RFC 8628 §3.2 `expires_in`). */
export const DEVICE_CODE_TTL_SECONDS = 600;
/** The least time between two polls (RFC 8628 §3.2 `interval`). */
export const DEVICE_POLL_INTERVAL_SECONDS = 5;
/** RFC 8628 §3.5: each `slow_down` adds 5 seconds to the interval, kept for the rest of the code's life. */
export const SLOW_DOWN_STEP_SECONDS = 5;
/**
 * A poll this much early still counts as on time: a client that waits
 * exactly `interval` after our answer can reach us a few milliseconds
 * "early" by our clock (timer rounding, latency varying between requests).
 */
const POLL_TOLERANCE_MS = 250;

const USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LENGTH = 8;

export function generateUserCode(): string {
  let code = "";
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

/** `BCDFGHJK` → `BCDF-GHJK`, as the end user sees and types it. */
export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/**
 * What the end user typed, as stored: upper case, punctuation and spaces
 * dropped (RFC 8628 §6.1). Undefined when it cannot be a user code at all.
 */
export function normaliseUserCode(typed: string): string | undefined {
  const code = typed.toUpperCase().replace(/[\s-]/g, "");
  if (code.length !== USER_CODE_LENGTH) return undefined;
  for (const c of code) if (!USER_CODE_ALPHABET.includes(c)) return undefined;
  return code;
}

export interface NewDeviceCode {
  deviceCode: string;
  /** Stored form, unformatted. */
  userCode: string;
  expiresIn: number;
  interval: number;
}

/** Stores a new device code for an app; the only time the device code exists in clear. */
export async function createDeviceCode(db: Pick<Db, "deviceCode">, input: { appId: string; scope: string; connectorId?: string }): Promise<NewDeviceCode> {
  // A user code collides with a live one once in billions; try again then.
  for (let attempt = 0; ; attempt++) {
    const deviceCode = generateSecret();
    const userCode = generateUserCode();
    try {
      await db.deviceCode.create({
        data: {
          deviceCodeHash: hashSecret(deviceCode),
          userCode,
          appId: input.appId,
          scope: input.scope,
          connectorId: input.connectorId ?? null,
          intervalSeconds: DEVICE_POLL_INTERVAL_SECONDS,
          expiresAt: new Date(Date.now() + DEVICE_CODE_TTL_SECONDS * 1000),
        },
      });
      return { deviceCode, userCode, expiresIn: DEVICE_CODE_TTL_SECONDS, interval: DEVICE_POLL_INTERVAL_SECONDS };
    } catch (err) {
      if (attempt < 3 && err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2002") continue;
      throw err;
    }
  }
}

/** A device code the end user may still act on. */
export interface PendingDeviceCode {
  deviceCodeHash: string;
  userCode: string;
  appId: string;
  scope: string;
  connectorId: string | null;
}

/** The pending, unexpired device code with this (normalised) user code. */
export async function findPendingDeviceCode(db: Pick<Db, "deviceCode">, userCode: string): Promise<PendingDeviceCode | undefined> {
  const row = await db.deviceCode.findFirst({
    where: { userCode, status: "pending", expiresAt: { gt: new Date() } },
    select: { deviceCodeHash: true, userCode: true, appId: true, scope: true, connectorId: true },
  });
  return row ?? undefined;
}

/** The end user connected `accountId`: the device may redeem its code. Returns whether the code was still pending. */
export async function approveDeviceCode(db: Pick<Db, "deviceCode">, deviceCodeHash: string, account: { id: string; connectorId: string }): Promise<boolean> {
  const { count } = await db.deviceCode.updateMany({
    where: { deviceCodeHash, status: "pending", expiresAt: { gt: new Date() } },
    data: { status: "approved", accountId: account.id, connectorId: account.connectorId },
  });
  return count === 1;
}

/** The end user refused (on the /device page or at the upstream): the device gets `access_denied`. */
export async function denyDeviceCode(db: Pick<Db, "deviceCode">, deviceCodeHash: string): Promise<boolean> {
  const { count } = await db.deviceCode.updateMany({ where: { deviceCodeHash, status: "pending" }, data: { status: "denied" } });
  return count === 1;
}

/** One poll of the token endpoint, as `recordPoll` saw the row. */
export interface PolledDeviceCode {
  appId: string;
  status: "pending" | "approved" | "denied" | "consumed";
  expired: boolean;
  /** A pending code polled sooner than its interval allows: the interval has just grown by `SLOW_DOWN_STEP_SECONDS`. */
  tooFast: boolean;
  scope: string;
  accountId: string | null;
  familyId: string | null;
}

/**
 * Records a poll of the app's own code (another app's poll neither reads
 * nor touches it) and reads the code, in one statement: the previous poll
 * time is read under the row lock, so two concurrent polls cannot both pass
 * as on time, and a too-early poll of a pending code lengthens the interval
 * (RFC 8628 §3.5 slow_down) for every later poll.
 */
export async function recordPoll(db: Pick<Db, "$queryRaw">, deviceCodeHash: string, appId: string): Promise<PolledDeviceCode | undefined> {
  const rows = await db.$queryRaw<PolledDeviceCode[]>`
    WITH previous AS (
      SELECT "deviceCodeHash", "lastPolledAt", "intervalSeconds", "status",
             "status" = 'pending' AND "lastPolledAt" IS NOT NULL
               AND ${NOW_UTC} < "lastPolledAt" + "intervalSeconds" * interval '1 second' - ${POLL_TOLERANCE_MS}::int * interval '1 millisecond' AS "tooFast"
        FROM "DeviceCode" WHERE "deviceCodeHash" = ${deviceCodeHash} AND "appId" = ${appId}
         FOR UPDATE
    )
    UPDATE "DeviceCode" d
       SET "lastPolledAt" = ${NOW_UTC},
           "intervalSeconds" = CASE WHEN previous."tooFast" THEN d."intervalSeconds" + ${SLOW_DOWN_STEP_SECONDS}::int ELSE d."intervalSeconds" END
      FROM previous
     WHERE d."deviceCodeHash" = previous."deviceCodeHash"
    RETURNING d."appId", d."status"::text AS "status", d."expiresAt" <= ${NOW_UTC} AS "expired", previous."tooFast",
              d."scope", d."accountId", d."familyId"`;
  return rows[0];
}
