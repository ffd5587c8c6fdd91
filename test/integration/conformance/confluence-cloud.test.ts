/**
 * connectors/confluence-cloud.yaml against a fake Atlassian identity and API
 * that behave as Atlassian documents (test/support/conformance/providers/atlassian.ts):
 * audience=api.atlassian.com, offline_access for a refresh token, rotating
 * refresh tokens, /me for who connected, and each site's API under
 * /ex/confluence/{cloudId}, the cloud id taken from accessible-resources
 * after the sign-in and kept with the account.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { atlassianProfile, atlassianUser, type AtlassianUser } from "../../support/conformance/providers/atlassian.js";

const ORIGINS = ["https://auth.atlassian.com", "https://api.atlassian.com"];

describe("confluence-cloud.yaml against Atlassian's documented behaviour", () => {
  let run: ConformanceRun;
  before(async () => {
    run = await startConformance({ connector: "confluence-cloud", origins: ORIGINS, provider: atlassianProfile(), user: atlassianUser(1) });
  });
  after(() => run?.stop());

  it("connects with audience and offline_access; /me says who", async () => {
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.upstreamSubject, atlassianUser(1).id);
    assert.equal((row.profile as { email?: string }).email, atlassianUser(1).email);
    const authorize = run.provider.requestsTo("GET", "/authorize")[0]!;
    assert.equal(authorize.query.get("audience"), "api.atlassian.com");
    assert.ok(authorize.query.get("scope")!.split(" ").includes("offline_access"));
    assert.ok((await run.credentials(account.accountId))!.refreshToken);
  });

  it("keeps each rotated refresh token", async () => {
    run.provider.setUser(atlassianUser(2));
    const account = await run.connect();
    const first = (await run.credentials(account.accountId))!.refreshToken;
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    assert.notEqual((await run.credentials(account.accountId))!.refreshToken, first);
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed", "the rotated one works");
  });

  it("keeps the granted site's cloud id, and the proxy reaches that site's Confluence REST API v1 and v2", async () => {
    const user = atlassianUser(3);
    run.provider.setUser(user);
    const calls = run.provider.requestsTo("GET", "/oauth/token/accessible-resources").length;
    const account = await run.connect();
    assert.equal(run.provider.requestsTo("GET", "/oauth/token/accessible-resources").length, calls + 1);
    const cloudId = user.sites[0]!.id;
    assert.deepEqual((await run.credentials(account.accountId))?.values, { cloudId });
    const v1 = await run.proxy(account, "/wiki/rest/api/space?limit=1");
    assert.equal(v1.status, 200, v1.text);
    assert.equal(v1.json<{ path: string }>().path, `/ex/confluence/${cloudId}/wiki/rest/api/space`);
    const v2 = await run.proxy(account, "/wiki/api/v2/pages?limit=1");
    assert.equal(v2.status, 200, v2.text);
    assert.equal(v2.json<{ path: string }>().path, `/ex/confluence/${cloudId}/wiki/api/v2/pages`);
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    const again = await run.proxy(account, "/wiki/api/v2/spaces");
    assert.equal(again.json<{ path: string }>().path, `/ex/confluence/${cloudId}/wiki/api/v2/spaces`, "the cloud id is kept across refreshes");
  });

  it("the proxy cannot leave the site's base for another site or api.atlassian.com itself", async () => {
    run.provider.setUser(atlassianUser(4));
    const account = await run.connect();
    for (const path of ["/../other-cloud-id/wiki/rest/api/space", "/%2e%2e/%2e%2e/oauth/token/accessible-resources"]) {
      const res = await run.proxy(account, path);
      assert.equal(res.status, 400, `${path}: ${res.text}`);
    }
  });

  it("an accessible-resources answer with no site fails the connect", async () => {
    const user: AtlassianUser = { ...atlassianUser(5), sites: [] };
    run.provider.setUser(user);
    await assert.rejects(run.connect(), /0\.id \(the connector's value cloudId\) is missing/);
  });
});
