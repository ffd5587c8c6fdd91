/** PostgreSQL through Prisma's Rust-free client and the pg driver adapter. */
import { PrismaPg } from "@prisma/adapter-pg";
import { finished } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
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
 * Rows appended with `COPY … FROM STDIN` in PostgreSQL's text format (one
 * line per row, fields separated by tabs, each made by `copyField`), on the
 * pg pool under `db`: the cheapest way for many rows into a table, as
 * PostgreSQL parses neither a statement nor JSON per row (for the proxy's
 * audit batch, ~23 % less of PostgreSQL's CPU per row than an INSERT from
 * jsonb_to_recordset: docs/benchmarks.md). `rows` are bytes outside V8's
 * heap: a batch's text waiting for Postgres as a string ended up in the old
 * generation. The pool's query timeout bounds the COPY too.
 */
export async function copyRows(db: Db, copyStatement: string, rows: Buffer): Promise<void> {
  const pool = pools.get(db);
  if (!pool) throw new TypeError("copyRows needs a client made by createDb");
  const client = await pool.connect();
  try {
    const sink = client.query(copyFrom(copyStatement));
    sink.end(rows);
    await finished(sink);
  } catch (err) {
    // A failed COPY may have left the connection in the middle of the protocol: dropped, not reused.
    client.release(err as Error);
    throw err;
  }
  client.release();
}

/** What `copyField` escapes: COPY's own escape character and its row and field separators, and NUL. */
const COPY_SPECIAL = /[\\\t\n\r\0]/;
const COPY_SPECIAL_ALL = /[\\\t\n\r\0]/g;
const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\uFFFD" };

/**
 * A value as one field of a COPY text-format row: `\N` for null, and
 * otherwise the text with backslash, tab, newline and carriage return
 * escaped. A NUL, which no PostgreSQL text can hold, becomes U+FFFD rather
 * than failing its whole batch at every retry.
 */
export function copyField(value: string | null): string {
  if (value === null) return "\\N";
  return COPY_SPECIAL.test(value) ? value.replace(COPY_SPECIAL_ALL, (ch) => COPY_ESCAPES[ch]!) : value;
}

/** The second `copyTimestamp` formatted last, and its text (`2026-12-08T02:15:03`). */
let copySecond = Number.NaN;
let copySecondText = "";

/**
 * A time (milliseconds since the epoch, as `Date.now()`) as one field of a
 * COPY text-format row: the text `toISOString` writes, which a `timestamptz`
 * column reads as the same instant and a `timestamp` column (Prisma's
 * `DateTime`, the audit's "at") as its UTC time, the "Z" ignored. The text
 * up to the second is made once per second and reused for the
 * milliseconds: V8's `toISOString` formats each of its seven fields through
 * printf, ~7,000 instructions a row, a fortieth of a proxied call's
 * instructions (docs/benchmarks.md), where a batch's rows nearly all share
 * their second.
 */
export function copyTimestamp(epochMs: number): string {
  const ms = Math.trunc(epochMs);
  const second = Math.floor(ms / 1000);
  if (second !== copySecond) {
    copySecondText = new Date(second * 1000).toISOString().slice(0, 19);
    copySecond = second;
  }
  const millis = ms - second * 1000;
  return `${copySecondText}.${millis < 10 ? "00" : millis < 100 ? "0" : ""}${millis}Z`;
}

/** The database name and server of a URL, for one-line error messages (no password). */
export function describeDatabaseUrl(databaseUrl: string): string {
  const u = new URL(databaseUrl);
  return `postgresql://${u.hostname}:${u.port || 5432}${u.pathname}`;
}
