/**
 * connectors/gitlab-self-managed.yaml against a fake GitLab server that
 * behaves as GitLab documents (test/support/conformance/providers/gitlab.ts):
 * per server, PKCE, two-hour tokens and single-use refresh tokens, RFC 7009
 * revocation.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { gitLabProfile, gitLabUser } from "../../support/conformance/providers/gitlab.js";

const ORIGINS = ["https://{hostname}"];

describe("gitlab-self-managed.yaml against GitLab's documented behaviour", () => {
  let run: ConformanceRun;
  before(async () => {
    run = await startConformance({ connector: "gitlab-self-managed", origins: ORIGINS, perServer: true, provider: gitLabProfile(), user: gitLabUser(1) });
  });
  after(() => run?.stop());

  it("connects at the registered server with PKCE; /api/v4/user says who", async () => {
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.hostname, run.hostname);
    assert.equal(row.upstreamSubject, gitLabUser(1).id);
    assert.equal((row.profile as { email?: string }).email, "dev1@gitlab.example");
    assert.equal(row.credentialExpirySource, "expires_in");
    assert.equal(run.provider.requestsTo("GET", "/oauth/authorize")[0]!.query.get("code_challenge_method"), "S256");
  });

  it("keeps each rotated refresh token", async () => {
    run.provider.setUser(gitLabUser(2));
    const account = await run.connect();
    const first = (await run.credentials(account.accountId))!.refreshToken;
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    assert.notEqual((await run.credentials(account.accountId))!.refreshToken, first);
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed", "the rotated one works");
  });

  it("the proxy reaches /api/v4, and removing the account revokes at /oauth/revoke", async () => {
    run.provider.setUser(gitLabUser(3));
    const account = await run.connect();
    const res = await run.proxy(account, "/projects?membership=true");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ path: string }>().path, "/api/v4/projects");
    const accessToken = (await run.credentials(account.accountId))!.accessToken!;
    const removed = await run.removeAccount(account);
    assert.equal(removed.status, 200, removed.text);
    assert.ok(run.provider.isRevoked(accessToken));
  });
});
