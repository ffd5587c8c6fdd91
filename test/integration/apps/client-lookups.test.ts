/**
 * Client lookups (src/apps/clients.ts): the token endpoint finds an app
 * without a database round trip while its entry is fresh; when the entry
 * expires under load, concurrent requests share one query; a query that
 * failed is tried again by the next request, not remembered.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Db } from "../../../src/db.js";
import { Clients } from "../../../src/apps/clients.js";
import { GRANT_TYPES } from "../../../src/oauth/grants/index.js";
import { createTestServices, type TestServices } from "../../support/services.js";

/** The real database, with its app lookups counted and, on demand, failed. */
function countingDb(db: Db): { db: Db; queries: () => number; failNext: () => void } {
  let queries = 0;
  let failing = false;
  const app = new Proxy(db.app, {
    get(target, property, receiver) {
      if (property !== "findUnique") return Reflect.get(target, property, receiver);
      return (args: Parameters<Db["app"]["findUnique"]>[0]) => {
        queries += 1;
        if (failing) {
          failing = false;
          return Promise.reject(new Error("connection lost"));
        }
        return target.findUnique(args);
      };
    },
  });
  return {
    db: new Proxy(db, { get: (target, property, receiver) => (property === "app" ? app : Reflect.get(target, property, receiver)) }),
    queries: () => queries,
    failNext: () => (failing = true),
  };
}

describe("client lookups", () => {
  let services: TestServices;
  let clientId: string;

  before(async () => {
    services = await createTestServices();
    clientId = (await services.clients.create({ name: "Looked up", redirectUris: [], grantTypes: ["client_credentials"], scopes: ["proxy"] })).client.id;
  });
  after(async () => services?.teardown());

  it("a burst of lookups for one app, known or not, is one query; later ones inside the window are none", async () => {
    const counted = countingDb(services.db);
    const clients = new Clients(counted.db, services.config.tokenLifetimeLimits, GRANT_TYPES, 60_000);
    const found = await Promise.all(Array.from({ length: 20 }, () => clients.find(clientId)));
    assert.ok(found.every((c) => c?.id === clientId));
    assert.equal(counted.queries(), 1);
    const unknown = await Promise.all(Array.from({ length: 20 }, () => clients.find("app_does_not_exist")));
    assert.ok(unknown.every((c) => c === undefined));
    assert.equal(counted.queries(), 2, "a miss is shared and remembered too");
    await clients.find(clientId);
    assert.equal(counted.queries(), 2);
  });

  it("an expired entry is looked up again, once for a burst", async () => {
    const counted = countingDb(services.db);
    const clients = new Clients(counted.db, services.config.tokenLifetimeLimits, GRANT_TYPES, 20);
    await clients.find(clientId);
    await new Promise((r) => setTimeout(r, 40));
    await Promise.all(Array.from({ length: 10 }, () => clients.find(clientId)));
    assert.equal(counted.queries(), 2);
  });

  it("the cache holds at most 10,001 ids: the next new id empties it, so guessed ids cannot fill the memory", async () => {
    const counted = countingDb(services.db);
    const clients = new Clients(counted.db, services.config.tokenLifetimeLimits, GRANT_TYPES, 3_600_000);
    const lookUp = async (ids: string[]) => {
      for (let i = 0; i < ids.length; i += 500) await Promise.all(ids.slice(i, i + 500).map((id) => clients.find(id)));
    };
    await clients.find(clientId);
    // 10,000 guessed ids: with the app's entry, 10,001 entries, none dropped.
    await lookUp(Array.from({ length: 10_000 }, (_, i) => `app_guess_${i}`));
    const before = counted.queries();
    await clients.find(clientId);
    assert.equal(counted.queries(), before, "still cached at 10,001 entries");
    // One more new id: the cache is emptied before it is added, so the app is looked up again.
    await clients.find("app_guess_one_more");
    await clients.find(clientId);
    assert.equal(counted.queries(), before + 2);
  });

  it("a failed query fails the requests that shared it, and the next request queries again", async () => {
    const counted = countingDb(services.db);
    const clients = new Clients(counted.db, services.config.tokenLifetimeLimits, GRANT_TYPES, 60_000);
    counted.failNext();
    const burst = await Promise.allSettled(Array.from({ length: 5 }, () => clients.find(clientId)));
    assert.ok(burst.every((r) => r.status === "rejected"));
    assert.equal(counted.queries(), 1);
    assert.equal((await clients.find(clientId))?.id, clientId);
    assert.equal(counted.queries(), 2);
  });
});
