/**
 * connectors/zoom.yaml against a fake Zoom that behaves as Zoom documents
 * (test/support/conformance/providers/zoom.ts): HTTP Basic client
 * authentication, PKCE, one-hour tokens and single-use refresh tokens.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { zoomProfile, zoomUser } from "../../support/conformance/providers/zoom.js";

const ORIGINS = ["https://zoom.us", "https://api.zoom.us"];

describe("zoom.yaml against Zoom's documented behaviour", () => {
  let run: ConformanceRun;
  before(async () => {
    run = await startConformance({ connector: "zoom", origins: ORIGINS, provider: zoomProfile(), user: zoomUser(1) });
  });
  after(() => run?.stop());

  it("connects with Basic client authentication and PKCE; /v2/users/me says who", async () => {
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.upstreamSubject, zoomUser(1).id);
    assert.deepEqual(
      { email: (row.profile as { email?: string }).email, name: (row.profile as { name?: string }).name },
      { email: "zoomer1@example.com", name: "Zoom User 1" },
    );
    assert.equal(run.provider.requestsTo("GET", "/oauth/authorize")[0]!.query.get("code_challenge_method"), "S256");
    assert.ok(run.provider.requestsTo("POST", "/oauth/token")[0]!.headers.authorization?.startsWith("Basic "));
  });

  it("keeps each rotated refresh token: the old one stops working, the new one refreshes", async () => {
    run.provider.setUser(zoomUser(2));
    const account = await run.connect();
    const first = (await run.credentials(account.accountId))!.refreshToken;
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    const second = (await run.credentials(account.accountId))!.refreshToken;
    assert.notEqual(second, first);
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed", "the rotated one works");
    assert.equal((await run.account(account.accountId)).credentialExpirySource, "expires_in");
  });

  it("removing the account revokes its tokens with ?token= and Basic client authentication, no body", async () => {
    run.provider.setUser(zoomUser(4));
    const account = await run.connect();
    const refreshToken = (await run.credentials(account.accountId))!.refreshToken!;
    const before = run.provider.requestsTo("POST", "/oauth/revoke").length;
    const removed = await run.removeAccount(account);
    assert.equal(removed.status, 200, removed.text);
    const revoke = run.provider.requestsTo("POST", "/oauth/revoke").slice(before);
    assert.equal(revoke[0]!.query.get("token"), refreshToken);
    assert.ok(revoke[0]!.headers.authorization?.startsWith("Basic "));
    assert.equal(revoke[0]!.body, "");
    assert.ok(run.provider.isRevoked(refreshToken));
  });

  it("the proxy reaches /v2, and a token Zoom refuses is refreshed once", async () => {
    run.provider.setUser(zoomUser(3));
    const account = await run.connect();
    run.provider.expireAccessTokens();
    const refreshes = run.provider.grants.refresh_token ?? 0;
    const res = await run.proxy(account, "/users/me/meetings?type=scheduled");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ path: string }>().path, "/v2/users/me/meetings");
    assert.equal((run.provider.grants.refresh_token ?? 0) - refreshes, 1);
  });
});
