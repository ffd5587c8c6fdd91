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
 *   revocation is checked in Redis on every call, not cached;
 * - credentials refreshed by this process replace the entry at once, and
 *   credentials refreshed elsewhere are at worst an older access token,
 *   which upstreams still take until it expires; if one refuses it (401),
 *   the single-flight refresh finds the newer version by its number and
 *   hands it over without refreshing again;
 * - concurrent misses for one account share one read;
 * - the map is bounded; plaintext lives only as long as an entry.
 */
import type { Services } from "../services.js";
import type { AccountStatus } from "../generated/prisma/client.js";
import { readCredentials, type StoredTokens } from "../accounts/vault.js";

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

export class AccountCache {
  private readonly entries = new Map<string, { value: CachedAccount; until: number }>();
  private readonly loading = new Map<string, Promise<CachedAccount | undefined>>();

  constructor(
    private readonly services: Pick<Services, "db" | "keyring">,
    private readonly ttlMs: number,
  ) {}

  /** The account and its credentials; undefined when there is no such account. */
  async get(accountId: string): Promise<CachedAccount | undefined> {
    const hit = this.entries.get(accountId);
    if (hit && hit.until > Date.now()) return hit.value;
    if (hit) this.entries.delete(accountId);
    let pending = this.loading.get(accountId);
    if (!pending) {
      pending = this.load(accountId).finally(() => this.loading.delete(accountId));
      this.loading.set(accountId, pending);
    }
    return pending;
  }

  /** Replaces the credentials after a refresh (only with a newer version than the cached one). */
  updateCredentials(accountId: string, credentials: OpenedCredentials): void {
    const hit = this.entries.get(accountId);
    if (hit && (hit.value.credentials?.version ?? -1) < credentials.version) hit.value = { account: hit.value.account, credentials };
  }

  /** Forgets an account (after an upstream refused its credentials, or its status changed). */
  invalidate(accountId: string): void {
    this.entries.delete(accountId);
  }

  private async load(accountId: string): Promise<CachedAccount | undefined> {
    // Two independent queries on two pool connections: one round trip of latency.
    const [account, credentials] = await Promise.all([
      this.services.db.account.findUnique({
        where: { id: accountId },
        select: { id: true, appId: true, connectorId: true, hostname: true, pinnedAddress: true, status: true, userId: true },
      }),
      readCredentials(this.services.db, this.services.keyring, accountId),
    ]);
    if (!account) return undefined;
    const value: CachedAccount = { account, credentials };
    if (this.ttlMs > 0) {
      if (this.entries.size >= MAX_ENTRIES) this.evict();
      this.entries.set(accountId, { value, until: Date.now() + this.ttlMs });
    }
    return value;
  }

  /** Drops expired entries, then the oldest if still full (Map keeps insertion order). */
  private evict(): void {
    const now = Date.now();
    for (const [id, entry] of this.entries) if (entry.until <= now) this.entries.delete(id);
    while (this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }
}
