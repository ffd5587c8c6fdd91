/**
 * The reconciler: the database is the truth, Redis only a schedule. At
 * worker start and every few minutes it walks the active accounts whose
 * credentials expire and (re)schedules any whose refresh job is missing or
 * finished (failed for good, or lost with Redis's data). Losing Redis loses
 * no account: the next pass rebuilds every schedule.
 */
import type { Services } from "../services.js";
import { DEFAULT_REFRESH_MARGIN_SECONDS, REFRESH_QUEUE, refreshJobId } from "./queues.js";

const BATCH = 500;

export interface ReconcileResult {
  checked: number;
  scheduled: number;
}

export async function reconcileRefreshJobs(services: Services): Promise<ReconcileResult> {
  const client = services.redis;
  const jobKey = (accountId: string) => `${services.config.queuePrefix}:${REFRESH_QUEUE}:${refreshJobId(accountId)}`;
  let checked = 0;
  let scheduled = 0;
  let after = "";
  for (;;) {
    const accounts = await services.db.account.findMany({
      where: { status: "active", credentialExpiresAt: { not: null }, id: { gt: after } },
      select: { id: true, connectorId: true, credentialExpiresAt: true },
      orderBy: { id: "asc" },
      take: BATCH,
    });
    if (accounts.length === 0) break;
    // One round trip per batch: a pending job's hash has no `finishedOn`.
    const pipeline = client.pipeline();
    for (const a of accounts) pipeline.hmget(jobKey(a.id), "timestamp", "finishedOn");
    const answers = (await pipeline.exec()) ?? [];
    for (const [i, account] of accounts.entries()) {
      const [timestamp, finishedOn] = (answers[i]?.[1] as (string | null)[] | undefined) ?? [null, null];
      checked++;
      if (timestamp !== null && finishedOn === null) continue;
      const connector = services.connectors.get(account.connectorId);
      if (!connector) continue;
      await services.queues.scheduleRefresh(account.id, account.credentialExpiresAt, connector.refresh?.marginSeconds ?? DEFAULT_REFRESH_MARGIN_SECONDS);
      scheduled++;
    }
    after = accounts[accounts.length - 1]!.id;
  }
  return { checked, scheduled };
}
