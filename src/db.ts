/** PostgreSQL through Prisma's Rust-free client and the pg driver adapter. */
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "./generated/prisma/client.js";

export type Db = PrismaClient;
export { Prisma } from "./generated/prisma/client.js";

/** The pg pool under each client made by `createDb`, for `sqlRows`. */
const pools = new WeakMap<Db, pg.Pool>();

export function createDb(databaseUrl: string, options: { max?: number } = {}): Db {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    // Fail fast when Postgres is down, so /readyz and requests answer 503 quickly.
    connectionTimeoutMillis: 3_000,
    // A query on a connection that went silent (a network partition, a frozen
    // server) would otherwise wait for TCP to give up, minutes later; the pool
    // drops the connection when its query times out. The broker's queries take
    // milliseconds: 10 s is an outage, answered 503 (test/integration/main/faults-postgres.test.ts).
    query_timeout: 10_000,
  });
  // An idle connection that breaks (Postgres restarted) is dropped by the pool;
  // the next query reports the outage. Without a listener the event would end the process.
  pool.on("error", () => undefined);
  const db = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
  pools.set(db, pool);
  return db;
}

/**
 * One SQL statement straight on the pg pool under `db` (the same
 * connections), for the few hot paths where Prisma's raw-query layer costs
 * far more than the query itself: ~200 µs of CPU per `$queryRaw` against
 * ~35 µs for the same statement through pg (bench/, docs/benchmarks.md).
 * Placeholders are `$1…`; values are pg's own conversions, so select no
 * `timestamp` column here (pg reads it as local time, Prisma as UTC): compare
 * times in SQL instead. A client not made by `createDb` (a test double, a
 * transaction) goes through Prisma.
 *
 * A statement with a `name` is prepared once per connection and then only
 * bound and executed: Postgres neither parses nor plans it again (for the
 * refresh rotation's CTE, planning was most of Postgres's own time).
 */
export interface SqlStatement {
  /** Unique per statement text: pg keeps one prepared statement of this name per connection. */
  name: string;
  text: string;
}

export async function sqlRows<Row>(db: Db, statement: SqlStatement, values: unknown[]): Promise<Row[]> {
  const pool = pools.get(db);
  if (!pool) return db.$queryRawUnsafe<Row[]>(statement.text, ...values);
  return (await pool.query({ name: statement.name, text: statement.text, values })).rows as Row[];
}

/**
 * A JSON value as a `$n::jsonb` parameter of `sqlRows`, in jsonb's binary
 * input format (PostgreSQL's jsonb_recv: a version byte, 1, then the UTF-8
 * text), which pg sends as it is. The text waits for its statement as bytes
 * outside V8's heap: as a string, the proxy audit's batch text of ~60 KB
 * ended up in the old generation at every batch, half of what the proxy
 * still added to it under load (docs/benchmarks.md). Through the pg pool only:
 * Prisma, sqlRows' other path, would send the bytes as bytea.
 */
export function jsonbParameter(value: unknown): Buffer {
  const text = JSON.stringify(value);
  const bytes = Buffer.allocUnsafe(1 + Buffer.byteLength(text));
  bytes[0] = 1;
  bytes.write(text, 1, "utf8");
  return bytes;
}

/** The database name and server of a URL, for one-line error messages (no password). */
export function describeDatabaseUrl(databaseUrl: string): string {
  const u = new URL(databaseUrl);
  return `postgresql://${u.hostname}:${u.port || 5432}${u.pathname}`;
}
