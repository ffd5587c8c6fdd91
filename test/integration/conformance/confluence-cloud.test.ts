/**
 * connectors/confluence-cloud.yaml against a fake Atlassian identity and API
 * that behave as Atlassian documents (test/support/conformance/providers/atlassian.ts):
 * audience=api.atlassian.com, offline_access for a refresh token, rotating
 * refresh tokens, /me for who connected, and each site's API under
 * /ex/confluence/{cloudId} (which the file's base leaves to the app until
 * the format can put the cloud id in api.baseUrl).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { atlassianProfile, atlassianUser } from "../../support/conformance/providers/atlassian.js";

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

  it("an app finds the cloud id through the proxy, then reaches that site's Confluence API", async () => {
    run.provider.setUser(atlassianUser(3));
    const account = await run.connect();
    const sites = await run.proxy(account, "/oauth/token/accessible-resources");
    assert.equal(sites.status, 200, sites.text);
    const cloudId = sites.json<{ id: string }[]>()[0]!.id;
    assert.equal(cloudId, atlassianUser(3).sites[0]!.id);
    const res = await run.proxy(account, `/ex/confluence/${cloudId}/wiki/rest/api/space?limit=1`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ path: string }>().path, `/ex/confluence/${cloudId}/wiki/rest/api/space`);
  });
});
