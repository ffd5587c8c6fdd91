/**
 * The accounts the proxy acts for, with their opened credentials, kept in
 * memory for a short time. Every proxied call needs the account (owner,
 * connector, status, pinned address) and its credentials; reading them is
 * two queries and an AEAD open, the largest cost of a call after the
 * upstream itself. The cache makes repeated calls for one account cost
 * nothing here, and is safe because:
 * - the lifetime is short (ProxyOptions.accountCacheMs, 1 s): a change made
 *   by another process (account revoked or marked needs_reauth) is seen
 *   within it. Broker tokens of a revoked grant are refused at once anyway:
 *   revocation is checked on every call (src/revocation/), never cached here;
 * - credentials refreshed by this process replace the entry at once, and
 *   credentials refreshed elsewhere are at worst an older access token,
 *   which upstreams still take until it expires; if one refuses it (401),
 *   the single-flight refresh finds the newer version by its number and
 *   hands it over without refreshing again;
 * - concurrent misses for one account share one read;
 * - an entry in the last quarter of its lifetime is read again in the
 *   background by the call that finds it (still served meanwhile, never past
 *   its lifetime): an account called steadily is never missing from the
 *   cache, so its calls do not queue behind a read once a second (a tail
 *   latency seen in the proxy bench);
 * - the cache is bounded (lru-cache); plaintext lives only as long as an entry.
 */
import { LRUCache } from "lru-cache";
import type { Services } from "../services.js";
import type { AccountStatus } from "../generated/prisma/client.js";
import { readRefreshState, type StoredTokens } from "../accounts/vault.js";

export interface ProxyAccount {
  id: string;
  appId: string;
  connectorId: string;
  /** Per-server connectors: the host the user typed; "" otherwise. */
  hostname: string;
  pinnedAddress: string | null;
  status: AccountStatus;
  /** The user it belongs to when connected on demand (accounts/users.ts: the user is userId ?? id). */
  userId: string | null;
}

export type OpenedCredentials = StoredTokens & { version: number };

export interface CachedAccount {
  account: ProxyAccount;
  /** Undefined when the account has no credential row. */
  credentials: OpenedCredentials | undefined;
}

const MAX_ENTRIES = 10_000;

interface Entry {
  value: CachedAccount;
  /** When a call that finds the entry starts reading it again (ms). */
  refreshAt: number;
}

export class AccountCache {
  /** Undefined when caching is off (a lifetime of 0). */
  private readonly entries: LRUCache<string, Entry> | undefined;
  private readonly loading = new Map<string, Promise<CachedAccount | undefined>>();

  constructor(
    private readonly services: Pick<Services, "db" | "keyring">,
    private readonly ttlMs: number,
  ) {
    // ttlResolution 0: the clock read on each lookup. lru-cache's default caches it for a millisecond
    // behind a timer, which under load was a timer made and fired every millisecond (docs/benchmarks.md).
    this.entries = ttlMs > 0 ? new LRUCache<string, Entry>({ max: MAX_ENTRIES, ttl: ttlMs, ttlResolution: 0 }) : undefined;
  }

  /** The cached account, when it is cached and fresh: the proxy's calls need no turn of the event loop then. */
  cached(accountId: string): CachedAccount | undefined {
    const entry = this.entries?.get(accountId);
    if (entry === undefined) return undefined;
    if (Date.now() >= entry.refreshAt && !this.loading.has(accountId)) void this.read(accountId).catch(() => undefined);
    return entry.value;
  }

  /** The account and its credentials; undefined when there is no such account. */
  async get(accountId: string): Promise<CachedAccount | undefined> {
    return this.cached(accountId) ?? this.read(accountId);
  }

  /** The account read from the database (for a caller that just found it not `cached`), sharing a read in flight. */
  read(accountId: string): Promise<CachedAccount | undefined> {
    let pending = this.loading.get(accountId);
    if (!pending) {
      pending = this.load(accountId).finally(() => this.loading.delete(accountId));
      this.loading.set(accountId, pending);
    }
    return pending;
  }

  /** Replaces the credentials after a refresh (only with a newer version than the cached one). */
  updateCredentials(accountId: string, credentials: OpenedCredentials): void {
    const entry = this.entries?.get(accountId);
    if (entry && (entry.value.credentials?.version ?? -1) < credentials.version) entry.value = { account: entry.value.account, credentials };
  }

  /** Forgets an account (after an upstream refused its credentials, or its status changed). */
  invalidate(accountId: string): void {
    this.entries?.delete(accountId);
  }

  private async load(accountId: string): Promise<CachedAccount | undefined> {
    // The account and its credentials in one prepared statement: one round trip, and
    // no query for Prisma to compile (its two findUnique cost 1.0–1.5 ms of CPU a read).
    const state = await readRefreshState(this.services.db, this.services.keyring, accountId);
    const found = state?.account;
    const account: ProxyAccount | undefined = found && {
      id: found.id,
      appId: found.appId,
      connectorId: found.connectorId,
      hostname: found.hostname,
      pinnedAddress: found.pinnedAddress,
      // The column's own enum type.
      status: found.status as AccountStatus,
      userId: found.userId,
    };
    const credentials = state?.credentials;
    if (!account) {
      this.entries?.delete(accountId);
      return undefined;
    }
    // A refresh this process made while the read was on its way is newer than what the read found.
    const cachedCredentials = this.entries?.get(accountId)?.value.credentials;
    const newest = cachedCredentials && credentials && cachedCredentials.version > credentials.version ? cachedCredentials : credentials;
    const value: CachedAccount = { account, credentials: newest };
    this.entries?.set(accountId, { value, refreshAt: Date.now() + (this.ttlMs * 3) / 4 });
    return value;
  }
}
