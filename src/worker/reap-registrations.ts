/**
 * Reaping dynamic registrations nobody used: an app a client registered for
 * itself (RFC 7591, `registration = dynamic`) that is older than
 * BROKER_DYNAMIC_REGISTRATION_REAP_AFTER and has no account, no grant
 * (refresh family), no authorization code and no device code left. Open
 * registration lets anyone make rows; this keeps them from piling up. Each
 * reaped app is revoked as a deleted app is (admin deleteApp), so an access
 * token it may still hold is refused. Runs with the reconciler.
 */
import { recordAudit } from "../audit.js";
import { clientRevocation, markClientRevoked } from "../revocation/revocation.js";
import type { Services } from "../services.js";

/** Apps reaped in one pass at most; the next pass takes the rest. */
const BATCH = 500;

export async function reapUnusedRegistrations(services: Pick<Services, "db" | "redis" | "clients" | "config">, now = new Date()): Promise<number> {
  const before = new Date(now.getTime() - services.config.dynamicRegistration.reapAfterSeconds * 1000);
  const unused = await services.db.app.findMany({
    where: {
      registration: "dynamic",
      createdAt: { lt: before },
      accounts: { none: {} },
      families: { none: {} },
      codes: { none: {} },
      deviceCodes: { none: {} },
    },
    select: { id: true, accessTokenTtl: true },
    take: BATCH,
  });
  let reaped = 0;
  for (const app of unused) {
    const revocation = clientRevocation(app.id, app.accessTokenTtl);
    // Deleted only if still unused: an account or grant made since the query keeps it.
    const [{ count }] = await services.db.$transaction([
      services.db.app.deleteMany({
        where: { id: app.id, accounts: { none: {} }, families: { none: {} }, codes: { none: {} }, deviceCodes: { none: {} } },
      }),
      services.db.revokedClient.upsert({ where: { clientId: app.id }, create: revocation, update: revocation }),
    ]);
    if (count === 0) {
      await services.db.revokedClient.delete({ where: { clientId: app.id } }).catch(() => undefined);
      continue;
    }
    services.clients.invalidate(app.id);
    await markClientRevoked(services.redis, revocation);
    await recordAudit(services.db, { action: "app.reaped", actorType: "system", appId: app.id, detail: { registration: "dynamic" } });
    reaped++;
  }
  return reaped;
}
