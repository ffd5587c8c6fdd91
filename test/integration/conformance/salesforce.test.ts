/**
 * connectors/salesforce.yaml against a fake Salesforce org that behaves as
 * Salesforce documents (test/support/conformance/providers/salesforce.ts):
 * no `expires_in`, an ID token issued by login.salesforce.com rather than
 * the My Domain, refresh tokens that do not rotate.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { salesforceProfile, salesforceUser } from "../../support/conformance/providers/salesforce.js";

const ORIGINS = ["https://{hostname}"];

describe("salesforce.yaml against Salesforce's documented behaviour", () => {
  let run: ConformanceRun;

  before(async () => {
    run = await startConformance({ connector: "salesforce", origins: ORIGINS, perServer: true, provider: salesforceProfile(), user: salesforceUser(1) });
  });
  after(() => run?.stop());

  it("connects at the org's My Domain although the ID token is issued by login.salesforce.com", async () => {
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.hostname, run.hostname);
    assert.equal(row.upstreamSubject, salesforceUser(1).id);
    assert.deepEqual(row.profile, { email: "user1@acme.example", email_verified: true, name: "Sales User 1" });
  });

  it("without expires_in, the token gets the file's default lifetime, and is refreshed before it ends", async () => {
    run.provider.setUser(salesforceUser(2));
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.credentialExpirySource, "connector_default");
    const lifetime = row.credentialExpiresAt!.getTime() - Date.now();
    assert.ok(lifetime > 0 && lifetime <= 900_000, `expires within the shortest session timeout Salesforce allows, got ${lifetime} ms`);
    const refreshed = await run.refresh(account.accountId);
    assert.equal(refreshed.outcome, "refreshed");
    const before = run.provider.issuedRefreshTokens().length;
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed", "the unrotated refresh token is kept and works again");
    assert.equal(run.provider.issuedRefreshTokens().length, before, "Salesforce issued no new refresh token");
  });

  it("the proxy reaches the REST API under /services/data", async () => {
    run.provider.setUser(salesforceUser(3));
    const account = await run.connect();
    const res = await run.proxy(account, "/v62.0/sobjects/Account?limit=1");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ path: string }>().path, "/services/data/v62.0/sobjects/Account");
  });

  it("removing the account revokes its token at /services/oauth2/revoke", async () => {
    run.provider.setUser(salesforceUser(4));
    const account = await run.connect();
    const res = await run.removeAccount(account);
    assert.equal(res.status, 200, res.text);
    assert.equal(run.provider.requestsTo("POST", "/services/oauth2/revoke").length > 0, true);
  });
});

describe("salesforce.yaml's idTokenIssuer is what makes it work", () => {
  it("without it, the code exchange fails on the ID token's issuer, as against Salesforce", async () => {
    const run = await startConformance({
      connector: "salesforce",
      origins: ORIGINS,
      perServer: true,
      provider: salesforceProfile(),
      user: salesforceUser(9),
      edit: (text) => text.replace(/^\s*idTokenIssuer:.*$/m, ""),
    });
    try {
      await assert.rejects(run.connect(), /connect failed/);
    } finally {
      await run.stop();
    }
  });
});
