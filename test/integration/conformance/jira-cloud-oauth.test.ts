/**
 * connectors/jira-cloud-oauth.yaml against a fake Atlassian that behaves as
 * Atlassian documents (test/support/conformance/providers/atlassian.ts):
 * the Jira API is reached through api.atlassian.com with the site's cloud
 * id, which accessible-resources names after the sign-in.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { atlassianProfile, atlassianUser, type AtlassianUser } from "../../support/conformance/providers/atlassian.js";

const ORIGINS = ["https://auth.atlassian.com", "https://api.atlassian.com"];

describe("jira-cloud-oauth.yaml against Atlassian's documented behaviour", () => {
  let run: ConformanceRun;

  before(async () => {
    run = await startConformance({ connector: "jira-cloud-oauth", origins: ORIGINS, provider: atlassianProfile(), user: atlassianUser(1) });
  });
  after(() => run?.stop());

  it("connects with the API audience, keeps the granted site's cloud id, and learns the user from /me", async () => {
    const account = await run.connect();
    const authorize = run.provider.requestsTo("GET", "/authorize").at(-1)!;
    assert.equal(authorize.query.get("audience"), "api.atlassian.com");
    assert.equal(run.provider.requestsTo("GET", "/oauth/token/accessible-resources").length, 1);
    assert.deepEqual((await run.credentials(account.accountId))?.values, { cloudId: atlassianUser(1).sites[0]!.id });
    const row = await run.account(account.accountId);
    assert.equal(row.upstreamSubject, atlassianUser(1).id);
    assert.equal((row.profile as { email?: string }).email, atlassianUser(1).email);
  });

  it("the proxy calls the site through api.atlassian.com/ex/jira/<cloud id>, and Jira Software through @agile", async () => {
    const user = atlassianUser(2);
    run.provider.setUser(user);
    const account = await run.connect();
    const res = await run.proxy(account, "/myself");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ path: string }>().path, `/ex/jira/${user.sites[0]!.id}/rest/api/3/myself`);
    const agile = await run.proxy(account, "/@agile/board?maxResults=1");
    assert.equal(agile.json<{ path: string }>().path, `/ex/jira/${user.sites[0]!.id}/rest/agile/1.0/board`);
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed", "the rotating refresh token works");
    const again = await run.proxy(account, "/myself");
    assert.equal(again.status, 200, "the cloud id is kept across refreshes");
  });

  for (const [what, sites, problem] of [
    ["no site", [], /0\.id \(the connector's value cloudId\) is missing/],
    ["a site id that is not one path segment", [{ id: "../../admin", url: "https://acme.atlassian.net", name: "acme" }], /is not one URL path segment/],
  ] as const) {
    it(`an accessible-resources answer with ${what} fails the connect`, async () => {
      const user: AtlassianUser = { ...atlassianUser(3), sites: [...sites] };
      run.provider.setUser(user);
      await assert.rejects(run.connect(), (err: Error) => {
        assert.match(err.message, problem);
        return true;
      });
    });
  }
});
