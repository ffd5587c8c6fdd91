import { describe, it, after, before } from "node:test";
import assert from "node:assert/strict";
import { createTestServices, type TestServices } from "../../support/services.js";

describe("test support", () => {
  let services: TestServices;
  before(async () => {
    services = await createTestServices();
  });
  after(() => services.teardown());

  it("gives each test file a migrated database of its own", async () => {
    assert.equal(await services.db.app.count(), 0);
    const [row] = await services.db.$queryRawUnsafe<{ db: string }[]>("SELECT current_database() AS db");
    assert.equal(row?.db, services.database.name);
  });
});
