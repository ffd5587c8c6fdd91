/**
 * `copyRows`, `copyField` and `copyTimestamp` (src/db.ts): rows appended
 * with COPY … FROM STDIN in PostgreSQL's text format, on the pg pool. What
 * goes in must come out the same, whatever the text holds; the proxy
 * audit's batches go this way.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyField, copyRows, copyTimestamp, createDb, sqlRows, type Db } from "../../../src/db.js";
import { createTestDatabase, type TestDatabase } from "../../support/db.js";

const COPY = `COPY copy_rows_test (n, label, detail) FROM STDIN`;
const line = (n: number, label: string | null, detail: string) => `${n}\t${copyField(label)}\t${copyField(detail)}\n`;

describe("copyRows", () => {
  let database: TestDatabase;
  let db: Db;
  before(async () => {
    database = await createTestDatabase();
    db = createDb(database.url, { max: 1 });
    await db.$executeRawUnsafe(`CREATE TABLE copy_rows_test (n int PRIMARY KEY, label text, detail jsonb)`);
  });
  after(async () => {
    await db.$disconnect();
    await database.drop();
  });
  const rowsFrom = (from: number, to: number) =>
    sqlRows<{ n: number; label: string | null; detail: unknown }>(
      db,
      { name: "copy-rows-read", text: "SELECT n, label, detail FROM copy_rows_test WHERE n >= $1 AND n < $2 ORDER BY n" },
      [from, to],
    );

  it("escapes COPY's escape character and separators, and reads null as \\N", () => {
    assert.equal(copyField("plain"), "plain");
    assert.equal(copyField("a\\b\tc\nd\re"), "a\\\\b\\tc\\nd\\re");
    assert.equal(copyField("\\N"), "\\\\N", "the text \\N is not null");
    assert.equal(copyField(null), "\\N");
    assert.equal(copyField("nul\0here"), "nul\uFFFDhere", "PostgreSQL's text cannot hold NUL");
  });

  it("writes a time as toISOString does, whichever second came before it", () => {
    const second = Date.UTC(2026, 11, 8, 2, 15, 3);
    // Every millisecond of one second, then seconds out of order (the second's text is remade, not kept).
    const times = [
      ...Array.from({ length: 1_000 }, (_, ms) => second + ms),
      second - 1,
      second + 1_000,
      second,
      Date.UTC(2027, 0, 1) - 1,
      Date.UTC(2027, 0, 1),
      0,
      Date.UTC(2024, 1, 29, 23, 59, 59, 999),
    ];
    for (const at of times) assert.equal(copyTimestamp(at), new Date(at).toISOString(), `at ${at}`);
    // A fraction of a millisecond is dropped, as Date drops it.
    assert.equal(copyTimestamp(second + 7.9), new Date(second + 7).toISOString());
  });

  it("a time written by copyTimestamp is read back by PostgreSQL as the same instant", async () => {
    await db.$executeRawUnsafe(`CREATE TABLE copy_times_test (n int PRIMARY KEY, at timestamptz NOT NULL)`);
    const times = [Date.UTC(2026, 11, 8, 2, 15, 3, 4), Date.UTC(2026, 11, 8, 2, 15, 3, 999), Date.UTC(1999, 11, 31, 23, 59, 59, 50)];
    await copyRows(db, `COPY copy_times_test (n, at) FROM STDIN`, Buffer.from(times.map((at, i) => `${i}\t${copyTimestamp(at)}\n`).join("")));
    const rows = await sqlRows<{ at: Date }>(db, { name: "copy-times-read", text: "SELECT at FROM copy_times_test ORDER BY n" }, []);
    assert.deepEqual(
      rows.map((r) => r.at.getTime()),
      times,
    );
  });

  it("round-trips text of every kind, null, and JSON for a jsonb column", async () => {
    const labels = ["plain", 'ünï 😀 "quoted"', "back\\slash", "tab\there", "new\nline", "carriage\rreturn", "\\N", "", null];
    const detail = { path: '/files/ünï/😀 "q" \\ \n\t', n: -1.5e-7, t: true, none: null, nested: { act: { sub: "agent" } } };
    await copyRows(db, COPY, Buffer.from(labels.map((label, i) => line(i, label, JSON.stringify(detail))).join("")));
    const rows = await rowsFrom(0, 100);
    assert.deepEqual(
      rows.map((r) => r.label),
      labels,
    );
    for (const row of rows) assert.deepEqual(row.detail, detail);
  });

  it("a large batch (hundreds of kilobytes) arrives whole", async () => {
    const text = Array.from({ length: 2_000 }, (_, i) => line(1_000 + i, `r-${i}`, JSON.stringify({ path: `/files/${i}`, status: 200 + (i % 5) }))).join("");
    await copyRows(db, COPY, Buffer.from(text));
    const rows = await rowsFrom(1_000, 3_000);
    assert.equal(rows.length, 2_000);
    assert.deepEqual(rows[1_999], { n: 2_999, label: "r-1999", detail: { path: "/files/1999", status: 204 } });
  });

  it("a batch PostgreSQL refuses rejects with its error, writes none of its rows, and leaves the pool working", async () => {
    // The second row repeats the first's key: COPY is one statement, all or nothing.
    const text = line(5_000, "first", "{}") + line(5_000, "again", "{}");
    await assert.rejects(copyRows(db, COPY, Buffer.from(text)), /duplicate key value/);
    await assert.rejects(copyRows(db, COPY, Buffer.from(line(5_001, "bad json", "{not json"))), /invalid input syntax for type json/);
    assert.deepEqual(await rowsFrom(5_000, 5_002), []);
    // One connection in the pool: the failed COPYs' connection was dropped, and a new one serves.
    await copyRows(db, COPY, Buffer.from(line(5_002, "after", "{}")));
    assert.deepEqual(await rowsFrom(5_002, 5_003), [{ n: 5_002, label: "after", detail: {} }]);
  });
});
