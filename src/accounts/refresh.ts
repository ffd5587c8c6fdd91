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
import { buildKindContext } from "../connectors/context.js";
import { UpstreamInvalidGrant } from "../connectors/errors.js";
import { refreshesFor, type AuthKind, type Refresher } from "../connectors/kinds/types.js";
import type { ConnectorConfig } from "../connectors/schema.js";
import { BrokerError, NotFound, ServiceUnavailable, UpstreamTimeout } from "../errors.js";
import { readCredentialsFast, readRefreshState, storeRefreshResult, type RefreshState, type StoredTokens } from "./vault.js";
import { tryLock, waitForRelease } from "../lock.js";
import { emitAccountEvent, enqueueDeliveries, recordAccountEvent } from "../jobs/account-events.js";
import { dropPendingRefresh, keepPendingRefresh, readPendingRefresh } from "./pending-refresh.js";

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
  /**
   * The access token the upstream refused (a 401 at the proxy): stored credentials that still hold
   * it are refreshed even if newer than `staleVersion` (a reconnect can store the same shared
   * token again), and a kind that caches tokens across accounts (client_credentials) drops it.
   */
  refusedAccessToken?: string;
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
  constructor(accountId: string, options?: { cause?: unknown; body?: Record<string, unknown> }) {
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
    options.staleVersion !== undefined
      ? c.version <= options.staleVersion || (options.refusedAccessToken !== undefined && c.accessToken === options.refusedAccessToken)
      : options.force || isExpiring(c, margin);

  let before = state.credentials;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0) before = await readCredentialsFast(services.db, services.keyring, accountId);
    if (!before) throw new NotFound(`account ${accountId} has no credentials`);
    if (!refreshesFor(kind, connector)) return { outcome: "not_refreshable", credentials: before };
    // An upstream answer whose write failed must be stored even if the old access token still looks fresh.
    if (!needsRefresh(before) && !(await hasPendingRefresh(services, accountId))) return { outcome: attempt === 0 ? "fresh" : "joined", credentials: before };

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
    const lockedAt = Date.now();
    try {
      // Re-read under the lock: a refresh may have finished between our read and the lock.
      const current = await readCredentialsFast(services.db, services.keyring, accountId);
      if (!current) throw new NotFound(`account ${accountId} has no credentials`);
      if (current.version > before.version) return { outcome: "joined", credentials: current };
      // An earlier answer of the upstream that could not be stored: store it, do not ask again
      // (its refresh token is the live one; the stored one may already be dead).
      const pending = await unstoredRefresh(services, accountId, current.version);
      if (!pending && !current.refreshToken && kind.needsRefreshToken) {
        return { outcome: "not_refreshable", credentials: current };
      }
      // Only when the stored token is the one refused: a different one was never tried.
      const refusedAccessToken =
        options.refusedAccessToken !== undefined && current.accessToken === options.refusedAccessToken ? current.accessToken : undefined;
      const tokens =
        pending ?? (await refreshAtUpstream(services, account, connector, kind, current, lockTtlMs, { requestId: options.requestId, refusedAccessToken }));
      // The credentials and the account's mirror of them, in one statement; what it stored is what we return.
      const write = await storeDurably(services, accountId, current, tokens, { fromPending: pending !== undefined, until: lockedAt + lockTtlMs });
      if (!write) {
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
      if (write.recovered) {
        await emitAccountEvent(services, { type: "account.recovered", accountId, actorType: "system", requestId: options.requestId }, services.log);
      }
      return { outcome: "refreshed", credentials: write.credentials };
    } finally {
      await lock.release().catch(() => undefined);
    }
  }
  throw new ServiceUnavailable(`account ${accountId} is being refreshed by another process; try again`, { headers: { "Retry-After": "2" } });
}

/**
 * One refresh at the upstream. `invalid_grant` marks the account
 * needs_reauth; any other failure is noted on the account and rethrown.
 */
async function refreshAtUpstream(
  services: Services,
  account: RefreshState["account"],
  connector: ConnectorConfig,
  kind: AuthKind & Refresher,
  current: StoredTokens,
  lockTtlMs: number,
  { requestId, refusedAccessToken }: { requestId: string | undefined; refusedAccessToken: string | undefined },
): Promise<StoredTokens> {
  // The upstream call must end while we still hold the lock: past its TTL another caller may
  // take it and present the same refresh token. The per-request timeouts (src/net/) add up to more.
  const deadline = AbortSignal.timeout(upstreamDeadlineMs(lockTtlMs));
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
    return await untilAborted(kind.refresh(context, current.refreshToken ?? "", { refusedAccessToken }), deadline, connector.name);
  } catch (err) {
    if (err instanceof UpstreamInvalidGrant) {
      await markNeedsReauth(services, account, err, requestId);
      throw new AccountNeedsReauth(account.id, { cause: err });
    }
    await services.db.account.update({ where: { id: account.id }, data: { lastError: err instanceof BrokerError ? err.description : "refresh failed" } });
    throw err;
  }
}

/** Whether the account has an upstream answer that could not be stored; a Redis failure reads as none. */
async function hasPendingRefresh(services: Services, accountId: string): Promise<boolean> {
  return (await readPendingRefresh(services.redis, services.keyring, accountId).catch(() => undefined)) !== undefined;
}

/**
 * The unstored answer to store over `version`, under the lock. One made
 * from another version is stale (the account was reconnected or refreshed
 * since) and is dropped.
 */
async function unstoredRefresh(services: Services, accountId: string, version: number): Promise<StoredTokens | undefined> {
  const pending = await readPendingRefresh(services.redis, services.keyring, accountId).catch(() => undefined);
  if (!pending) return undefined;
  if (pending.baseVersion === version) return pending.tokens;
  await dropPendingRefresh(services.redis, accountId).catch(() => undefined);
  return undefined;
}

/** Waits between attempts to store a refresh result, while the lock lasts. */
const STORE_RETRY_DELAYS_MS = [200, 800, 2_000];

/**
 * Stores a refresh result so that no upstream answer is lost: it is kept
 * in Redis first (pending-refresh.ts), the write is retried a few times
 * while the lock lasts, and it is dropped from Redis only once written (or
 * once the row moved on). When every attempt fails it stays in Redis and the
 * refresh fails as transient: the next refresh of the account stores it.
 */
async function storeDurably(
  services: Services,
  accountId: string,
  current: StoredTokens & { version: number },
  tokens: StoredTokens,
  options: { fromPending: boolean; until: number },
): Promise<Awaited<ReturnType<typeof storeRefreshResult>>> {
  if (!options.fromPending) {
    await keepPendingRefresh(services.redis, services.keyring, accountId, { baseVersion: current.version, tokens }).catch((err: Error) =>
      services.log.warn({ accountId, err: { message: err.message } }, "could not keep the refresh result in Redis before storing it"),
    );
  }
  for (let attempt = 0; ; attempt++) {
    try {
      const stored = await storeRefreshResult(services.db, services.keyring, accountId, current, tokens);
      await dropPendingRefresh(services.redis, accountId).catch(() => undefined);
      if (options.fromPending && stored) services.log.info({ accountId }, "stored a refresh result kept since a failed write");
      return stored;
    } catch (err) {
      const wait = STORE_RETRY_DELAYS_MS[attempt];
      // Stop retrying in time to release the lock before its TTL: past it another caller may refresh.
      if (wait === undefined || Date.now() + wait >= options.until - 1_000) {
        services.log.error(
          { accountId, err: { message: (err as Error).message } },
          "could not store the refreshed credentials; they are kept in Redis and stored at the account's next refresh",
        );
        throw new ServiceUnavailable(`the refreshed credentials of account ${accountId} could not be stored yet; try again`, {
          cause: err,
          headers: { "Retry-After": "5" },
        });
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
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
  // Only the caller that changes the status reports it: the app hears of it once.
  const delivery = await services.db.$transaction(async (tx) => {
    const { count } = await tx.account.updateMany({
      where: { id: account.id, status: { not: "needs_reauth" } },
      data: { status: "needs_reauth", lastError: err.description },
    });
    if (count === 0) return undefined;
    return recordAccountEvent(tx, { type: "account.needs_reauth", accountId: account.id, actorType: "system", requestId, detail: { reason: "invalid_grant" } });
  });
  services.log.warn({ accountId: account.id, connectorId: account.connectorId }, "account needs reauthorization");
  await services.queues.cancelRefresh(account.id).catch(() => undefined);
  await enqueueDeliveries(services, [delivery], services.log);
}
