/**
 * The back-channel endpoints' refresh-token lookup (token-lookup.ts) reads
 * straight through pg: its times must be the instants Prisma stored (UTC in
 * `timestamp(3)`), whatever time zone the database session runs in.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { generateSecret, hashSecret } from "../../../src/crypto/secrets.js";
import { findRefreshTokenState } from "../../../src/oauth/token-lookup.js";
import { createTestServices, type TestServices } from "../../support/services.js";

describe("refresh token lookup for introspection and revocation", () => {
  let services: TestServices;

  before(async () => {
    services = await createTestServices();
    // Before the pool opens a session: every session of this database runs far from UTC.
    const client = new pg.Client({ connectionString: services.database.url });
    await client.connect();
    await client.query(`ALTER DATABASE "${services.database.name}" SET timezone = 'Pacific/Kiritimati'`);
    await client.end();
  });
  after(() => services?.teardown());

  it("reports the stored expiry and creation instants, and activity, in a session far from UTC", async () => {
    const { client } = await services.clients.create({ name: "Times", redirectUris: [], grantTypes: ["client_credentials", "refresh_token"] });
    await services.db.refreshFamily.create({ data: { id: "gr_times", appId: client.id, scope: "proxy offline_access" } });
    const token = generateSecret();
    const createdAt = new Date(Date.now() - 60_000);
    const expiresAt = new Date(Date.now() + 3 * 3_600_000);
    await services.db.refreshToken.create({ data: { tokenHash: hashSecret(token), familyId: "gr_times", createdAt, expiresAt } });
    const [session] = await services.db.$queryRawUnsafe<{ tz: string }[]>("SELECT current_setting('TimeZone') AS tz");
    assert.equal(session?.tz, "Pacific/Kiritimati");

    const state = await findRefreshTokenState(services, token);
    assert.ok(state);
    assert.equal(state.expiresAt.getTime(), expiresAt.getTime());
    assert.equal(state.createdAt.getTime(), createdAt.getTime());
    assert.equal(state.active, true);
    assert.equal(state.appId, client.id);
    assert.equal(state.scope, "proxy offline_access");

    // Expired a minute ago in UTC: inactive, though the session's local clock is 14 hours ahead.
    await services.db.refreshToken.update({ where: { tokenHash: hashSecret(token) }, data: { expiresAt: new Date(Date.now() - 60_000) } });
    assert.equal((await findRefreshTokenState(services, token))?.active, false);
  });
});
