/**
 * `jsonbParameter` (src/db.ts): a JSON value sent to PostgreSQL as jsonb's
 * binary input, through `sqlRows` on the pg pool. What goes in must come
 * out the same, whatever the text holds; the proxy audit's batches go this way.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createDb, jsonbParameter, sqlRows, type Db } from "../../../src/db.js";
import { createTestDatabase, type TestDatabase } from "../../support/db.js";

const ECHO = { name: "test-jsonb-echo", text: "SELECT $1::jsonb AS value, jsonb_typeof($1::jsonb) AS type" };

describe("jsonbParameter", () => {
  let database: TestDatabase;
  let db: Db;
  before(async () => {
    database = await createTestDatabase();
    db = createDb(database.url);
  });
  after(async () => {
    await db.$disconnect();
    await database.drop();
  });

  it("is jsonb's binary input: the version byte 1, then the JSON text in UTF-8", () => {
    const bytes = jsonbParameter({ a: "é" });
    assert.equal(bytes[0], 1);
    assert.equal(bytes.subarray(1).toString("utf8"), '{"a":"é"}');
    assert.equal(bytes.length, 1 + Buffer.byteLength('{"a":"é"}'));
  });

  const values: [string, unknown][] = [
    ["an array of rows", [{ at: 1796665795131, app: "app_1", status: 200, retried: false, act: { sub: "agent", act: { sub: "app" } } }]],
    ["text beyond ASCII, quotes, backslashes and control characters", { path: '/files/ünï/😀 "q" \\ \n\t', empty: "" }],
    ["numbers, booleans and null", { n: -1.5e-7, big: 2 ** 53 - 1, t: true, f: false, none: null }],
    ["an empty array", []],
    ["a string", "just text"],
  ];
  for (const [what, value] of values) {
    it(`round-trips ${what}`, async () => {
      const [row] = await sqlRows<{ value: unknown; type: string }>(db, ECHO, [jsonbParameter(value)]);
      assert.deepEqual(row!.value, value);
      assert.equal(row!.type, Array.isArray(value) ? "array" : value === null ? "null" : typeof value === "string" ? "string" : "object");
    });
  }

  it("a large batch (hundreds of kilobytes) arrives whole", async () => {
    const rows = Array.from({ length: 2_000 }, (_, i) => ({ request: `r-${i}`, path: `/files/${i}`, status: 200 + (i % 5) }));
    const [row] = await sqlRows<{ value: unknown }>(db, ECHO, [jsonbParameter(rows)]);
    assert.deepEqual(row!.value, rows);
  });
});
