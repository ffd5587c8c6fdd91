/**
 * The one refresh path, shared by the worker, the proxy's on-demand refresh
 * and `authbroker accounts refresh`. Across any number of processes,
 * concurrent callers for one account trigger ONE upstream refresh and all
 * get its result:
 *
 *  1. a Redis lock per account decides who refreshes; the others wait for
 *     the lock to go and re-read the credentials;
 *  2. the holder re-reads after taking the lock (someone may have just
 *     finished), calls the upstream, and stores with a compare-and-set on the
 *     credential version — so a rotating upstream refresh token is used
 *     exactly once, and the new tokens are stored before anyone uses them;
 *  3. `invalid_grant` marks the account `needs_reauth` (retrying cannot help);
 *     anything else is transient and left to the caller's retry policy.
 */
import type { Services } from "../services.js";
import { recordAudit } from "../audit.js";
import { buildKindContext } from "../connectors/context.js";
import { UpstreamInvalidGrant } from "../connectors/errors.js";
import { isRefresher } from "../connectors/kinds/types.js";
import { BrokerError, NotFound, ServiceUnavailable, UpstreamTimeout } from "../errors.js";
import { readCredentialsFast, readRefreshState, storeRefreshResult, type RefreshState, type StoredTokens } from "./vault.js";
import { tryLock, waitForRelease } from "../lock.js";
import { notifyApp } from "../jobs/notify.js";

export type RefreshOutcome =
  /** This call refreshed at the upstream. */
  | "refreshed"
  /** Another caller refreshed meanwhile; its result is returned. */
  | "joined"
  /** Nothing to do: not expiring (and not forced), or the kind cannot refresh. */
  | "fresh"
  | "not_refreshable";

export interface RefreshResult {
  outcome: RefreshOutcome;
  credentials: StoredTokens & { version: number };
}

export interface RefreshOptions {
  /** Refresh even if the credentials are not about to expire (after an upstream 401, or an operator's request). */
  force?: boolean;
  /** The version the caller saw fail: if the stored one is newer, it is used instead of refreshing again. */
  staleVersion?: number;
  requestId?: string;
  /** The account and credentials as the caller just read them (readRefreshState), so they are not read twice. */
  state?: RefreshState;
  /**
   * Plan the next refresh after refreshing (default). The worker passes
   * false: it moves its own job, and the producer would only find it active.
   */
  schedule?: boolean;
}

/** An account that must be connected again: its refresh token was refused. */
export class AccountNeedsReauth extends BrokerError {
  override name = "AccountNeedsReauth";
  constructor(accountId: string, options?: { cause?: unknown }) {
    super(409, "account_needs_reauth", `account ${accountId} must be connected again: the upstream refused its refresh token`, options);
  }
}

function lockKey(accountId: string): string {
  return `lock:refresh:${accountId}`;
}

function isExpiring(credentials: StoredTokens, marginSeconds: number): boolean {
  return credentials.expiresAt !== undefined && credentials.expiresAt.getTime() - Date.now() <= marginSeconds * 1000;
}

export async function refreshAccount(services: Services, accountId: string, options: RefreshOptions = {}): Promise<RefreshResult> {
  // One statement reads the account and its credentials (the worker hands over the one it already made).
  const state = options.state ?? (await readRefreshState(services.db, services.keyring, accountId));
  if (!state) throw new NotFound(`account ${accountId} does not exist`);
  const { account } = state;
  if (account.status === "needs_reauth" || account.status === "revoked") throw new AccountNeedsReauth(accountId);
  const connector = services.connectors.get(account.connectorId);
  if (!connector) throw new NotFound(`connector ${account.connectorId} of account ${accountId} is no longer configured`);
  const kind = services.kinds.for(connector);
  const margin = connector.refresh.marginSeconds;

  const needsRefresh = (c: StoredTokens & { version: number }) =>
    options.staleVersion !== undefined ? c.version <= options.staleVersion : options.force || isExpiring(c, margin);

  let before = state.credentials;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0) before = await readCredentialsFast(services.db, services.keyring, accountId);
    if (!before) throw new NotFound(`account ${accountId} has no credentials`);
    if (!isRefresher(kind)) return { outcome: "not_refreshable", credentials: before };
    if (!needsRefresh(before)) return { outcome: attempt === 0 ? "fresh" : "joined", credentials: before };

    // Longest an upstream refresh may hold the lock (REFRESH_LOCK_TTL_MS); callers wait at most this long.
    const lockTtlMs = services.config.refreshLockTtlMs;
    const lock = await tryLock(services.redis, lockKey(accountId), lockTtlMs);
    if (!lock) {
      // Someone else is refreshing: wait for them, then use what they stored.
      await waitForRelease(services.redis, lockKey(accountId), lockTtlMs);
      const after = await readCredentialsFast(services.db, services.keyring, accountId);
      if (after && after.version > before.version) return { outcome: "joined", credentials: after };
      continue;
    }
    try {
      // Re-read under the lock: a refresh may have finished between our read and the lock.
      const current = await readCredentialsFast(services.db, services.keyring, accountId);
      if (!current) throw new NotFound(`account ${accountId} has no credentials`);
      if (current.version > before.version) return { outcome: "joined", credentials: current };
      if (!current.refreshToken && kind.needsRefreshToken) {
        return { outcome: "not_refreshable", credentials: current };
      }
      // The upstream call must end while we still hold the lock: past its TTL another caller may
      // take it and present the same refresh token. The per-request timeouts (src/net/) add up to more.
      const deadline = AbortSignal.timeout(upstreamDeadlineMs(lockTtlMs));
      let tokens;
      try {
        // `fields`: what the end user typed at connect that a new grant needs again (the jwt_bearer subject).
        const context = await buildKindContext(services, {
          connector,
          appId: account.appId,
          upstreamScopes: account.scopes,
          hostname: account.hostname || undefined,
          pinned: pinnedOf(account.pinnedAddress),
          fields: current.fields,
          signal: deadline,
        });
        tokens = await untilAborted(kind.refresh(context, current.refreshToken ?? ""), deadline, connector.name);
      } catch (err) {
        if (err instanceof UpstreamInvalidGrant) {
          await markNeedsReauth(services, account, err, options.requestId);
          throw new AccountNeedsReauth(accountId, { cause: err });
        }
        await services.db.account.update({ where: { id: accountId }, data: { lastError: err instanceof BrokerError ? err.description : "refresh failed" } });
        throw err;
      }
      // The credentials and the account's mirror of them, in one statement; what it stored is what we return.
      const stored = await storeRefreshResult(services.db, services.keyring, accountId, current, tokens);
      if (!stored) {
        // Only possible if our lock expired mid-refresh; the stored row is newer than ours.
        services.log.warn({ accountId }, "refresh result discarded: credentials changed while refreshing");
        const latest = await readCredentialsFast(services.db, services.keyring, accountId);
        return { outcome: "joined", credentials: latest! };
      }
      // The next refresh is planned from the new expiry. A job being processed
      // right now (the worker's own) is left alone: it moves itself.
      if (options.schedule !== false) {
        await services.queues
          .scheduleRefresh(accountId, tokens.expiresAt, margin)
          .catch((err: Error) => services.log.warn({ accountId, err: { message: err.message } }, "could not schedule the next refresh; the reconciler will"));
      }
      return { outcome: "refreshed", credentials: stored };
    } finally {
      await lock.release().catch(() => undefined);
    }
  }
  throw new ServiceUnavailable(`account ${accountId} is being refreshed by another process; try again`, { headers: { "Retry-After": "2" } });
}

/**
 * How long the upstream part of a refresh may take while holding a lock of
 * `lockTtlMs`: the TTL less a margin for storing the result (5 s, or a
 * quarter of a short TTL).
 */
export function upstreamDeadlineMs(lockTtlMs: number): number {
  return lockTtlMs - Math.min(5_000, Math.floor(lockTtlMs / 4));
}

/**
 * `operation`, or UpstreamTimeout once `signal` aborts: the upstream fetch
 * honours the signal itself, this also bounds anything a kind does around it.
 */
function untilAborted<T>(operation: Promise<T>, signal: AbortSignal, upstreamName: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () =>
      reject(new UpstreamTimeout(`${upstreamName} did not answer the refresh in time`, { detail: "refresh deadline (REFRESH_LOCK_TTL_MS) passed" }));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    operation.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function pinnedOf(address: string | null): { address: string; family: 4 | 6 } | undefined {
  if (!address) return undefined;
  return { address, family: address.includes(":") ? 6 : 4 };
}

async function markNeedsReauth(
  services: Services,
  account: { id: string; appId: string; connectorId: string },
  err: UpstreamInvalidGrant,
  requestId?: string,
): Promise<void> {
  await services.db.$transaction(async (tx) => {
    await tx.account.update({ where: { id: account.id }, data: { status: "needs_reauth", lastError: err.description } });
    await recordAudit(tx, {
      action: "account.needs_reauth",
      actorType: "system",
      appId: account.appId,
      accountId: account.id,
      connectorId: account.connectorId,
      requestId,
      detail: { reason: "invalid_grant" },
    });
  });
  services.log.warn({ accountId: account.id, connectorId: account.connectorId }, "account needs reauthorization");
  await services.queues.cancelRefresh(account.id).catch(() => undefined);
  await notifyApp(services, account.appId, "account.needs_reauth", { account_id: account.id, connector: account.connectorId, reason: "invalid_grant" }).catch(
    (e: Error) => services.log.warn({ accountId: account.id, err: { message: e.message } }, "could not enqueue the needs_reauth webhook"),
  );
}
