/**
 * connectors/asana.yaml against a fake Asana that behaves as Asana
 * documents (test/support/conformance/providers/asana.ts): one-hour tokens,
 * refresh tokens that do not rotate, every answer wrapped in `data`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { asanaProfile, asanaUser } from "../../support/conformance/providers/asana.js";

const ORIGINS = ["https://app.asana.com"];

describe("asana.yaml against Asana's documented behaviour", () => {
  let run: ConformanceRun;
  before(async () => {
    run = await startConformance({ connector: "asana", origins: ORIGINS, provider: asanaProfile(), user: asanaUser(1) });
  });
  after(() => run?.stop());

  it("connects, reading who connected from users/me's data wrapper", async () => {
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.upstreamSubject, asanaUser(1).id);
    assert.equal((row.profile as { email?: string }).email, "asana1@acme.example");
    assert.equal((row.profile as { name?: string }).name, "Asana User 1");
    assert.equal(row.credentialExpirySource, "expires_in");
  });

  it("refreshes with the same refresh token, which Asana does not rotate", async () => {
    run.provider.setUser(asanaUser(2));
    const account = await run.connect();
    const first = (await run.credentials(account.accountId))!.refreshToken;
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    assert.equal((await run.credentials(account.accountId))!.refreshToken, first);
  });

  it("the proxy reaches /api/1.0, and removing the account revokes at /-/oauth_revoke", async () => {
    run.provider.setUser(asanaUser(3));
    const account = await run.connect();
    const res = await run.proxy(account, "/tasks?project=1");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ path: string }>().path, "/api/1.0/tasks");
    const refreshToken = (await run.credentials(account.accountId))!.refreshToken!;
    const removed = await run.removeAccount(account);
    assert.equal(removed.status, 200, removed.text);
    assert.ok(run.provider.isRevoked(refreshToken));
  });
});
