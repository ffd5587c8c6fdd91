/**
 * The reconciler: the database is the truth, Redis only a schedule. At
 * worker start and every few minutes it walks the active accounts whose
 * credentials expire and (re)schedules any whose refresh job is missing or
 * finished (failed for good, or lost with Redis's data). Losing Redis loses
 * no account: the next pass rebuilds every schedule.
 */
import type { Services } from "../services.js";
import { REFRESH_QUEUE, overduePriority, plannedRefreshTime, refreshJobId } from "../jobs/queues.js";

const BATCH = 500;

export interface ReconcileResult {
  checked: number;
  scheduled: number;
}

/**
 * One pass. Accounts are walked soonest expiry first, and each page's
 * missing jobs are added in one `addBulk` (one Redis round trip, not several
 * per account): after Redis lost every schedule, 10,000 jobs are back in
 * seconds, and a herd that is due at once runs in expiry order (the pages,
 * and `overduePriority`).
 */
export async function reconcileRefreshJobs(services: Services): Promise<ReconcileResult> {
  const client = services.redis;
  const jobKey = (accountId: string) => `${services.config.queuePrefix}:${REFRESH_QUEUE}:${refreshJobId(accountId)}`;
  let checked = 0;
  let scheduled = 0;
  let after: { expiresAt: Date; id: string } | undefined;
  for (;;) {
    const accounts = await services.db.account.findMany({
      where: {
        status: "active",
        credentialExpiresAt: { not: null },
        ...(after ? { OR: [{ credentialExpiresAt: { gt: after.expiresAt } }, { credentialExpiresAt: after.expiresAt, id: { gt: after.id } }] } : {}),
      },
      select: { id: true, connectorId: true, credentialExpiresAt: true },
      orderBy: [{ credentialExpiresAt: "asc" }, { id: "asc" }],
      take: BATCH,
    });
    if (accounts.length === 0) break;
    // One round trip per page: a pending job's hash has no `finishedOn`.
    const pipeline = client.pipeline();
    for (const a of accounts) pipeline.hmget(jobKey(a.id), "timestamp", "finishedOn");
    const answers = (await pipeline.exec()) ?? [];
    const missing: Parameters<typeof services.queues.refresh.addBulk>[0] = [];
    const finished: string[] = [];
    const now = Date.now();
    for (const [i, account] of accounts.entries()) {
      const [timestamp, finishedOn] = (answers[i]?.[1] as (string | null)[] | undefined) ?? [null, null];
      checked++;
      if (timestamp !== null && finishedOn === null) continue;
      const connector = services.connectors.get(account.connectorId);
      if (!connector) continue;
      // A job that finished for good still holds its id: it goes, then the new one is added.
      if (timestamp !== null) finished.push(refreshJobId(account.id));
      const at = plannedRefreshTime(account.credentialExpiresAt!, connector.refresh.marginSeconds, now);
      const priority = overduePriority(account.credentialExpiresAt!, at, now);
      missing.push({
        name: "refresh",
        data: { accountId: account.id, plannedAt: at },
        opts: { jobId: refreshJobId(account.id), delay: Math.max(0, at - now), ...(priority ? { priority } : {}) },
      });
    }
    // Rare (jobs that failed for good); removing one that moved on meanwhile is harmless.
    await Promise.all(finished.map((id) => services.queues.refresh.remove(id).catch(() => undefined)));
    // An id that some other producer added meanwhile is left as it is (BullMQ does not add an id twice).
    if (missing.length > 0) await services.queues.refresh.addBulk(missing);
    scheduled += missing.length;
    const last = accounts[accounts.length - 1]!;
    after = { expiresAt: last.credentialExpiresAt!, id: last.id };
  }
  return { checked, scheduled };
}
