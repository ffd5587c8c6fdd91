/**
 * Storage adapters for oidc-provider in the comparison (its Adapter
 * interface: upsert, find, findByUid, findByUserCode, consume, destroy,
 * revokeByGrantId):
 *   - `memory`: an unbounded Map. oidc-provider's built-in MemoryAdapter is
 *     an LRU of 1,000 entries, which would evict most of a pre-minted pool of
 *     refresh tokens; this one keeps everything, which is the fastest
 *     storage oidc-provider can have (no I/O at all).
 *   - `postgres`: one JSONB table through a `pg` pool of 10 (the broker's
 *     own pool size), after the SQL adapter in oidc-provider's examples:
 *     durable storage, as a deployment needs and as the broker has.
 */
import pg from "pg";
import type { Adapter, AdapterPayload } from "oidc-provider";

export type AdapterKind = "memory" | "postgres";

export function memoryAdapterFactory(): (name: string) => Adapter {
  const store = new Map<string, { payload: AdapterPayload; expiresAt: number | undefined }>();
  const grants = new Map<string, Set<string>>();
  const live = (key: string) => {
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry;
  };
  return (name: string): Adapter => ({
    async upsert(id, payload, expiresIn) {
      const key = `${name}:${id}`;
      store.set(key, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
      if (payload.grantId) {
        const set = grants.get(payload.grantId) ?? new Set<string>();
        set.add(key);
        grants.set(payload.grantId, set);
      }
    },
    async find(id) {
      return live(`${name}:${id}`)?.payload;
    },
    async findByUid(uid) {
      for (const [key, entry] of store) if (key.startsWith(`${name}:`) && entry.payload.uid === uid) return entry.payload;
      return undefined;
    },
    async findByUserCode(userCode) {
      for (const [key, entry] of store) if (key.startsWith(`${name}:`) && entry.payload.userCode === userCode) return entry.payload;
      return undefined;
    },
    async consume(id) {
      const entry = live(`${name}:${id}`);
      if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
    },
    async destroy(id) {
      store.delete(`${name}:${id}`);
    },
    async revokeByGrantId(grantId) {
      for (const key of grants.get(grantId) ?? []) store.delete(key);
      grants.delete(grantId);
    },
  });
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS oidc_payloads (
  id text NOT NULL,
  type text NOT NULL,
  payload jsonb NOT NULL,
  grant_id text,
  user_code text,
  uid text,
  expires_at timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (id, type)
);
CREATE INDEX IF NOT EXISTS oidc_payloads_grant_id ON oidc_payloads (grant_id);
CREATE INDEX IF NOT EXISTS oidc_payloads_uid ON oidc_payloads (uid);
CREATE INDEX IF NOT EXISTS oidc_payloads_user_code ON oidc_payloads (user_code);`;

export async function postgresAdapterFactory(databaseUrl: string): Promise<{ factory: (name: string) => Adapter; close(): Promise<void> }> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  await pool.query(SCHEMA);
  const row = (r: { payload: AdapterPayload; consumed_at: Date | null } | undefined): AdapterPayload | undefined =>
    r ? { ...r.payload, ...(r.consumed_at ? { consumed: Math.floor(r.consumed_at.getTime() / 1000) } : {}) } : undefined;
  const findBy = async (type: string, column: "id" | "uid" | "user_code", value: string) => {
    const { rows } = await pool.query(
      `SELECT payload, consumed_at FROM oidc_payloads WHERE type = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > now())`,
      [type, value],
    );
    return row(rows[0]);
  };
  const factory = (type: string): Adapter => ({
    async upsert(id, payload, expiresIn) {
      await pool.query(
        `INSERT INTO oidc_payloads (id, type, payload, grant_id, user_code, uid, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7::int IS NULL THEN NULL ELSE now() + $7::int * interval '1 second' END)
         ON CONFLICT (id, type) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, user_code = EXCLUDED.user_code, uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at`,
        [id, type, payload, payload.grantId ?? null, payload.userCode ?? null, payload.uid ?? null, expiresIn ?? null],
      );
    },
    find: (id) => findBy(type, "id", id),
    findByUid: (uid) => findBy(type, "uid", uid),
    findByUserCode: (userCode) => findBy(type, "user_code", userCode),
    async consume(id) {
      await pool.query("UPDATE oidc_payloads SET consumed_at = now() WHERE id = $1 AND type = $2", [id, type]);
    },
    async destroy(id) {
      await pool.query("DELETE FROM oidc_payloads WHERE id = $1 AND type = $2", [id, type]);
    },
    async revokeByGrantId(grantId) {
      await pool.query("DELETE FROM oidc_payloads WHERE grant_id = $1", [grantId]);
    },
  });
  return { factory, close: () => pool.end() };
}
