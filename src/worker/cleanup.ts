/**
 * Removing what can no longer be used: authorization codes and device codes
 * past their expiry (kept a day, so a late replay still finds the code and
 * revokes what it issued), refresh tokens a day past their expiry, and the
 * revocations of deleted apps once no token they cover can be valid. Used
 * refresh tokens stay until they expire: a replay of one must still be
 * recognised as reuse and revoke its family (RFC 9700 §4.14.2). Runs with
 * the reconciler.
 */
import type { Services } from "../services.js";

const KEEP_MS = 24 * 3600_000;

export interface CleanupResult {
  codes: number;
  deviceCodes: number;
  refreshTokens: number;
  revokedClients: number;
}

export async function removeExpiredGrants(services: Pick<Services, "db">, now = new Date()): Promise<CleanupResult> {
  const before = new Date(now.getTime() - KEEP_MS);
  const [codes, deviceCodes, refreshTokens, revokedClients] = await Promise.all([
    services.db.authorizationCode.deleteMany({ where: { expiresAt: { lt: before } } }),
    services.db.deviceCode.deleteMany({ where: { expiresAt: { lt: before } } }),
    services.db.refreshToken.deleteMany({ where: { expiresAt: { lt: before } } }),
    services.db.revokedClient.deleteMany({ where: { expiresAt: { lt: now } } }),
  ]);
  return { codes: codes.count, deviceCodes: deviceCodes.count, refreshTokens: refreshTokens.count, revokedClients: revokedClients.count };
}
