/**
 * The broker's token-signing keys (ES256). The private JWK is sealed in the
 * database, so every `serve` process signs with the same key. The current key
 * signs; after `keys rotate`, the previous one stays in the JWKS until every
 * token it signed has expired (`publishUntil`), then it is retired.
 *
 * Keys are cached in memory and re-read at most every `cacheMs`, so the token
 * endpoint does no database round trip for its key, and a rotation done by
 * another process is picked up within that window. `publishUntil` of a
 * rotated-out key includes that window.
 */
import { createPrivateKey, type JsonWebKey, type KeyObject } from "node:crypto";
import { exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from "jose";
import type { Db } from "../db.js";
import type { Keyring } from "./keyring.js";
import { generateId } from "./secrets.js";

export const SIGNING_ALG = "ES256";
const PRIVATE_JWK_FIELD = "SigningKey.sealedPrivateJwk";

export interface ActiveSigningKey {
  kid: string;
  alg: string;
  /** For jose (algorithms node:crypto does not sign directly). */
  privateKey: CryptoKey;
  /**
   * The same key for node:crypto's `sign`, made from the JWK: a KeyObject made
   * from the non-extractable CryptoKey is deprecated from Node.js 24 (DEP0204).
   */
  privateKeyObject: KeyObject;
}

interface Snapshot {
  loadedAt: number;
  current: ActiveSigningKey;
  publicJwks: JWK[];
  publicKeys: Map<string, CryptoKey>;
}

export class SigningKeys {
  private snapshot: Snapshot | undefined;
  private loading: Promise<Snapshot> | undefined;
  private lastMissReload = 0;

  constructor(
    private readonly db: Db,
    private readonly keyring: Keyring,
    private readonly cacheMs = 30_000,
  ) {}

  /**
   * Creates the first signing key if there is none (safe when several
   * processes start at once), then opens the current one: a keyring that
   * cannot (BROKER_ENCRYPTION_KEYS replaced or lost) fails at start with a
   * SealError naming the key, not at the first token.
   */
  async ensureCurrent(): Promise<void> {
    await this.db.$transaction(async (tx) => {
      // One creator at a time across processes: a transaction-scoped advisory lock.
      await tx.$executeRawUnsafe("SELECT pg_advisory_xact_lock(727274001)");
      const existing = await tx.signingKey.findFirst({ where: { status: "current" } });
      if (!existing) await tx.signingKey.create({ data: await this.newKeyRow() });
    });
    await this.current();
  }

  /**
   * Makes a new current key; the old one becomes `previous` and stays
   * published for `publishForSeconds` (the longest lifetime of a token it may
   * have signed) plus the cache window of other processes.
   */
  async rotate(publishForSeconds: number): Promise<{ kid: string; previousKid: string | undefined }> {
    const row = await this.newKeyRow();
    const publishUntil = new Date(Date.now() + publishForSeconds * 1000 + this.cacheMs);
    const previous = await this.db.$transaction(async (tx) => {
      await tx.$executeRawUnsafe("SELECT pg_advisory_xact_lock(727274001)");
      const old = await tx.signingKey.findMany({ where: { status: "current" } });
      await tx.signingKey.updateMany({ where: { status: "current" }, data: { status: "previous", publishUntil } });
      await tx.signingKey.create({ data: row });
      return old[0]?.kid;
    });
    this.snapshot = undefined;
    return { kid: row.kid, previousKid: previous };
  }

  /** Retires previous keys whose tokens have all expired. */
  async retireExpired(now = new Date()): Promise<number> {
    const { count } = await this.db.signingKey.updateMany({ where: { status: "previous", publishUntil: { lt: now } }, data: { status: "retired" } });
    if (count) this.snapshot = undefined;
    return count;
  }

  async current(): Promise<ActiveSigningKey> {
    return (await this.load()).current;
  }

  /** The public JWKS: the current key and every previous key still published. */
  async jwks(): Promise<{ keys: JWK[] }> {
    return { keys: (await this.load()).publicJwks };
  }

  /** The public key for a `kid`, re-reading the keys once if it is unknown (another process may have rotated). */
  async publicKey(kid: string): Promise<CryptoKey | undefined> {
    const found = (await this.load()).publicKeys.get(kid);
    if (found) return found;
    // Bound re-reads caused by tokens with made-up kids.
    if (Date.now() - this.lastMissReload < 5_000) return undefined;
    this.lastMissReload = Date.now();
    this.snapshot = undefined;
    return (await this.load()).publicKeys.get(kid);
  }

  /**
   * Whether `kid` is published, answered from the loaded keys while they are
   * fresh, without a turn of the event loop (the proxy asks on every call);
   * undefined when the keys must be read again first (`publicKey` does).
   */
  publishedNow(kid: string): boolean | undefined {
    const cached = this.snapshot;
    if (!cached || Date.now() - cached.loadedAt >= this.cacheMs) return undefined;
    return cached.publicKeys.has(kid);
  }

  /** Drop the cache (after a rotation in this process). */
  invalidate(): void {
    this.snapshot = undefined;
  }

  private async load(): Promise<Snapshot> {
    const cached = this.snapshot;
    if (cached && Date.now() - cached.loadedAt < this.cacheMs) return cached;
    this.loading ??= this.read().finally(() => (this.loading = undefined));
    return (this.snapshot = await this.loading);
  }

  private async read(): Promise<Snapshot> {
    const now = new Date();
    let rows = await this.db.signingKey.findMany({
      where: { OR: [{ status: "current" }, { status: "previous", publishUntil: { gt: now } }] },
      orderBy: { createdAt: "desc" },
    });
    if (!rows.some((r) => r.status === "current")) {
      await this.ensureCurrent();
      rows = await this.db.signingKey.findMany({
        where: { OR: [{ status: "current" }, { status: "previous", publishUntil: { gt: now } }] },
        orderBy: { createdAt: "desc" },
      });
    }
    const currentRow = rows.find((r) => r.status === "current")!;
    const privateJwk = this.keyring.openJson<JWK>(currentRow.sealedPrivateJwk, { rowId: currentRow.kid, field: PRIVATE_JWK_FIELD });
    const publicKeys = new Map<string, CryptoKey>();
    for (const row of rows) publicKeys.set(row.kid, (await importJWK(row.publicJwk as JWK, row.alg)) as CryptoKey);
    return {
      loadedAt: Date.now(),
      current: {
        kid: currentRow.kid,
        alg: currentRow.alg,
        privateKey: (await importJWK(privateJwk, currentRow.alg)) as CryptoKey,
        privateKeyObject: createPrivateKey({ key: privateJwk as JsonWebKey, format: "jwk" }),
      },
      publicJwks: rows.map((r) => r.publicJwk as JWK),
      publicKeys,
    };
  }

  private async newKeyRow() {
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const kid = generateId("sk", 9);
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALG, use: "sig" };
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALG };
    return {
      kid,
      alg: SIGNING_ALG,
      publicJwk,
      sealedPrivateJwk: this.keyring.sealJson(privateJwk, { rowId: kid, field: PRIVATE_JWK_FIELD }),
      status: "current" as const,
    };
  }
}
