/**
 * connectors/hubspot.yaml against a fake HubSpot that behaves as HubSpot
 * documents (test/support/conformance/providers/hubspot.ts): client
 * credentials in the body, 30-minute tokens, a refresh token answered again
 * unchanged, the portal at /account-info/v3/details.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { hubSpotPortal, hubSpotProfile } from "../../support/conformance/providers/hubspot.js";

const ORIGINS = ["https://app.hubspot.com", "https://api.hubapi.com"];

describe("hubspot.yaml against HubSpot's documented behaviour", () => {
  let run: ConformanceRun;
  before(async () => {
    run = await startConformance({ connector: "hubspot", origins: ORIGINS, provider: hubSpotProfile(), user: hubSpotPortal(1) });
  });
  after(() => run?.stop());

  it("connects with the oauth scope, the client secret in the body, and the portal as the account, with the user's email", async () => {
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.upstreamSubject, hubSpotPortal(1).id);
    assert.equal((row.profile as { email?: string }).email, hubSpotPortal(1).email);
    const accessToken = (await run.credentials(account.accountId))!.accessToken!;
    assert.equal(run.provider.requestsTo("GET", `/oauth/v1/access-tokens/${accessToken}`).length, 1, "the token in the path");
    assert.equal(row.credentialExpirySource, "expires_in");
    const lifetime = row.credentialExpiresAt!.getTime() - Date.now();
    assert.ok(lifetime > 0 && lifetime <= 1800_000, `30 minutes, got ${lifetime} ms`);
    const scope = run.provider.requestsTo("GET", "/oauth/authorize")[0]!.query.get("scope")!.split(" ");
    assert.ok(scope.includes("oauth") && scope.includes("crm.objects.contacts.read"), scope.join(" "));
    const token = run.provider.requestsTo("POST", "/oauth/v1/token")[0]!;
    assert.equal(token.form?.get("client_secret"), hubSpotProfile().client.secret);
    assert.equal(token.headers.authorization, undefined);
  });

  it("refreshes again and again with the unrotated refresh token", async () => {
    run.provider.setUser(hubSpotPortal(2));
    const account = await run.connect();
    const first = (await run.credentials(account.accountId))!.refreshToken;
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    assert.equal((await run.credentials(account.accountId))!.refreshToken, first);
  });

  it("removing the account deletes its refresh token at /oauth/v1/refresh-tokens/{token}", async () => {
    run.provider.setUser(hubSpotPortal(4));
    const account = await run.connect();
    const refreshToken = (await run.credentials(account.accountId))!.refreshToken!;
    const removed = await run.removeAccount(account);
    assert.equal(removed.status, 200, removed.text);
    assert.equal(run.provider.requestsTo("DELETE", `/oauth/v1/refresh-tokens/${refreshToken}`).length, 1);
    assert.ok(run.provider.isRevoked(refreshToken));
  });

  it("no log line holds a token sent in a URL path, even when the identity call fails", async () => {
    run.provider.setUser(hubSpotPortal(5));
    const account = await run.connect();
    const tokens = [...run.provider.issuedAccessTokens(), ...run.provider.issuedRefreshTokens()];
    await run.removeAccount(account);
    // An identity call answered with an error whose body echoes the token: the failure is logged, the token is not.
    const failing = await startConformance({
      connector: "hubspot",
      origins: ORIGINS,
      provider: {
        ...hubSpotProfile(),
        resources: { "GET /oauth/v1/access-tokens/{token}": (_user, request) => ({ status: 500, body: { message: `bad token ${request.path}` } }) },
      },
      user: hubSpotPortal(6),
    });
    try {
      await assert.rejects(failing.connect(), /connect failed: .*identity URL answered HTTP 500/);
      const failedTokens = failing.provider.issuedAccessTokens();
      assert.equal(failedTokens.length, 1);
      assert.match(failing.broker.services.logs.text, /identity/, "the failure is logged");
      for (const token of failedTokens) assert.ok(!failing.broker.services.logs.text.includes(token), "the failed call's token is in a log line");
    } finally {
      await failing.stop();
    }
    assert.ok(tokens.length > 0);
    for (const token of tokens) assert.ok(!run.broker.services.logs.text.includes(token), "a token is in a log line");
  });

  it("the proxy reaches the CRM API, and a refresh token HubSpot refuses needs the user again", async () => {
    run.provider.setUser(hubSpotPortal(3));
    const account = await run.connect();
    const res = await run.proxy(account, "/crm/v3/objects/contacts?limit=1");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ path: string }>().path, "/crm/v3/objects/contacts");
    run.provider.failNextToken("invalid_grant", "missing or unknown refresh token");
    await assert.rejects(run.refresh(account.accountId));
  });
});
