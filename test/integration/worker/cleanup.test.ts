/** Expired codes, device codes, refresh tokens and client revocations are removed; live and merely used ones stay. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createTestServices, type TestServices } from "../../support/services.js";
import { removeExpiredGrants } from "../../../src/worker/cleanup.js";

describe("removing expired grants", () => {
  let services: TestServices;
  before(async () => {
    services = await createTestServices();
    await services.db.app.create({
      data: {
        id: "app_c",
        name: "c",
        tokenEndpointAuthMethod: "client_secret_basic",
        redirectUris: [],
        grantTypes: [],
        responseTypes: [],
        scopes: [],
        connectors: [],
      },
    });
  });
  after(() => services.teardown());

  it("deletes what expired more than a day ago and keeps the rest, including used refresh tokens", async () => {
    const old = new Date(Date.now() - 2 * 24 * 3600_000);
    const soon = new Date(Date.now() + 3600_000);
    await services.db.authorizationCode.createMany({
      data: [
        { codeHash: "old", appId: "app_c", redirectUri: "https://x/cb", scope: "", expiresAt: old },
        { codeHash: "live", appId: "app_c", redirectUri: "https://x/cb", scope: "", expiresAt: soon },
      ],
    });
    await services.db.deviceCode.createMany({
      data: [
        { deviceCodeHash: "old", userCode: "BCDF-GHJK", appId: "app_c", scope: "", expiresAt: old },
        { deviceCodeHash: "live", userCode: "LMNP-QRST", appId: "app_c", scope: "", expiresAt: soon },
      ],
    });
    await services.db.refreshFamily.create({ data: { id: "fam", appId: "app_c", scope: "" } });
    await services.db.refreshToken.createMany({
      data: [
        { tokenHash: "old", familyId: "fam", expiresAt: old },
        { tokenHash: "used", familyId: "fam", expiresAt: soon, usedAt: old },
        { tokenHash: "live", familyId: "fam", expiresAt: soon },
      ],
    });
    await services.db.revokedClient.createMany({
      data: [
        { clientId: "app_gone_long_ago", expiresAt: new Date(Date.now() - 1000) },
        { clientId: "app_gone_lately", expiresAt: soon },
      ],
    });
    const removed = await removeExpiredGrants(services);
    assert.deepEqual(removed, { codes: 1, deviceCodes: 1, refreshTokens: 1, revokedClients: 1 });
    assert.deepEqual(
      (await services.db.revokedClient.findMany()).map((c) => c.clientId),
      ["app_gone_lately"],
      "a client revocation stays while a token it covers may be valid",
    );
    assert.deepEqual(
      (await services.db.authorizationCode.findMany()).map((c) => c.codeHash),
      ["live"],
    );
    assert.deepEqual(
      (await services.db.deviceCode.findMany()).map((c) => c.deviceCodeHash),
      ["live"],
    );
    assert.deepEqual(
      (await services.db.refreshToken.findMany({ orderBy: { tokenHash: "asc" } })).map((t) => t.tokenHash),
      ["live", "used"],
    );
  });
});
