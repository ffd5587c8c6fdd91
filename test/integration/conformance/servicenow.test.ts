/**
 * connectors/servicenow.yaml against a fake ServiceNow instance that
 * behaves as ServiceNow documents (test/support/conformance/providers/servicenow.ts):
 * the client's credentials in the body, refresh tokens that do not rotate,
 * revocation at /oauth_revoke_token.do without client authentication.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { serviceNowProfile, serviceNowUser } from "../../support/conformance/providers/servicenow.js";

const ORIGINS = ["https://{hostname}"];

describe("servicenow.yaml against ServiceNow's documented behaviour", () => {
  let run: ConformanceRun;

  before(async () => {
    run = await startConformance({ connector: "servicenow", origins: ORIGINS, perServer: true, provider: serviceNowProfile(), user: serviceNowUser(1) });
  });
  after(() => run?.stop());

  it("connects at the instance, learns the user from sys_user, and refreshes", async () => {
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.upstreamSubject, serviceNowUser(1).sysId);
    assert.equal((row.profile as { email?: string }).email, serviceNowUser(1).email);
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
  });

  it("the proxy reaches the Table API, and a scoped app's API through @scoped", async () => {
    run.provider.setUser(serviceNowUser(2));
    const account = await run.connect();
    const table = await run.proxy(account, "/table/incident?sysparm_limit=1");
    assert.equal(table.status, 200, table.text);
    assert.equal(table.json<{ path: string }>().path, "/api/now/table/incident");
    const scoped = await run.proxy(account, "/@scoped/x_acme_app/orders/42");
    assert.equal(scoped.status, 200, scoped.text);
    assert.equal(scoped.json<{ path: string }>().path, "/api/x_acme_app/orders/42");
  });

  it("removing the account revokes both tokens at /oauth_revoke_token.do, each as `token`, without client credentials", async () => {
    run.provider.setUser(serviceNowUser(3));
    const account = await run.connect();
    const stored = (await run.credentials(account.accountId))!;
    const res = await run.removeAccount(account);
    assert.equal(res.status, 200, res.text);
    const revocations = run.provider.requestsTo("POST", "/oauth_revoke_token.do");
    assert.deepEqual(revocations.map((r) => r.form?.get("token")).sort(), [stored.accessToken, stored.refreshToken].sort());
    for (const request of revocations) {
      assert.equal(request.headers.authorization, undefined);
      assert.equal(request.form?.get("client_secret"), null, "the client secret is not sent where it is not asked for");
      assert.equal(request.query.get("token"), null, "the token stays out of the URL");
    }
    assert.ok(run.provider.isRevoked(stored.refreshToken!) && run.provider.isRevoked(stored.accessToken!));
  });
});

describe("servicenow.yaml's auth.revocation is what revokes", () => {
  it("without it, nothing reaches /oauth_revoke_token.do and the tokens stay valid", async () => {
    const run = await startConformance({
      connector: "servicenow",
      origins: ORIGINS,
      perServer: true,
      provider: serviceNowProfile(),
      user: serviceNowUser(4),
      edit: (text) => text.replace(/^ {2}revocation:\n(?: {4}.*\n)+/m, ""),
    });
    try {
      const account = await run.connect();
      const stored = (await run.credentials(account.accountId))!;
      await run.removeAccount(account);
      assert.equal(run.provider.requestsTo("POST", "/oauth_revoke_token.do").length, 0);
      assert.equal(run.provider.isRevoked(stored.refreshToken!), false);
    } finally {
      await run.stop();
    }
  });
});
