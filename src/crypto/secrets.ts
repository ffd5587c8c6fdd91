/**
 * Opaque secrets the broker hands out: client secrets, codes, refresh tokens,
 * device codes. Each has 256 bits from the CSPRNG and is stored only as its
 * SHA-256. A fast hash is right here: the input has full entropy, so there is
 * nothing to brute-force, and a slow password hash would cap the token
 * endpoint at a few dozen grants per second.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** A new secret: 32 random bytes, base64url, with an optional readable prefix. */
export function generateSecret(prefix = ""): string {
  return prefix + randomBytes(32).toString("base64url");
}

/** A short random identifier (ids of rows, not secrets). */
export function generateId(prefix: string, bytes = 12): string {
  return `${prefix}_${randomBytes(bytes).toString("base64url")}`;
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** Constant-time check of a presented secret against a stored hash. */
export function secretMatches(presented: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(presented), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}
