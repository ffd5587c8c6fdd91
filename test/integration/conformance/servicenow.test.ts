/**
 * connectors/servicenow.yaml against a fake ServiceNow instance that behaves
 * as ServiceNow documents (test/support/conformance/providers/servicenow.ts):
 * per instance, 30-minute tokens, refresh tokens that do not rotate, and the
 * signed-in user's sys_user record as who connected.
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

  it("connects at the instance; the user's own sys_user record says who", async () => {
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.hostname, run.hostname);
    assert.equal(row.upstreamSubject, serviceNowUser(1).id);
    assert.equal((row.profile as { email?: string }).email, "abel1@acme.example");
    assert.equal((row.profile as { name?: string }).name, "Abel Tuter 1");
  });

  it("refreshes again and again with the unrotated refresh token", async () => {
    run.provider.setUser(serviceNowUser(2));
    const account = await run.connect();
    const first = (await run.credentials(account.accountId))!.refreshToken;
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    assert.equal((await run.credentials(account.accountId))!.refreshToken, first);
  });

  it("the proxy reaches /api/now", async () => {
    run.provider.setUser(serviceNowUser(3));
    const account = await run.connect();
    const res = await run.proxy(account, "/table/incident?sysparm_limit=1");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ path: string }>().path, "/api/now/table/incident");
  });
});
