/**
 * connectors/github.yaml against a fake GitHub that behaves as GitHub
 * documents (test/support/conformance/providers/github.ts): OAuth apps'
 * tokens without expiry or refresh token, GitHub Apps' expiring ones with
 * rotating refresh tokens, failures as HTTP 200 with an error body, and the
 * API version header.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { gitHubProfile, gitHubUser } from "../../support/conformance/providers/github.js";

const ORIGINS = ["https://github.com", "https://api.github.com"];

describe("github.yaml against an OAuth app", () => {
  let run: ConformanceRun;
  before(async () => {
    run = await startConformance({ connector: "github", origins: ORIGINS, provider: gitHubProfile(), user: gitHubUser(1) });
  });
  after(() => run?.stop());

  it("connects; the numeric id is the subject, and a null public email is completed by the primary one of /user/emails", async () => {
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.upstreamSubject, gitHubUser(1).id);
    assert.deepEqual(row.profile, { email: "octo1@example.com", email_verified: true, name: "Octo 1" });
    assert.equal((await run.credentials(account.accountId))?.refreshToken, undefined);
  });

  it("a public email is taken from /user, without the second call", async () => {
    run.provider.setUser({ ...gitHubUser(4), email: "octo4@public.example" });
    const lookups = run.provider.requestsTo("GET", "/user/emails").length;
    const account = await run.connect();
    assert.equal(((await run.account(account.accountId)).profile as { email?: string }).email, "octo4@public.example");
    assert.equal(run.provider.requestsTo("GET", "/user/emails").length, lookups);
  });

  it("sends X-GitHub-Api-Version to /user and on proxied calls", async () => {
    run.provider.setUser(gitHubUser(2));
    const account = await run.connect();
    const res = await run.proxy(account, "/repos/octo/hello/issues");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ headers: Record<string, string> }>().headers["x-github-api-version"], "2022-11-28");
    assert.ok(run.provider.requestsTo("GET", "/user").every((r) => r.headers["x-github-api-version"] === "2022-11-28"));
  });

  it("removing the account deletes the grant at /applications/{client_id}/grant, as GitHub documents", async () => {
    run.provider.setUser(gitHubUser(5));
    const account = await run.connect();
    const accessToken = (await run.credentials(account.accountId))!.accessToken!;
    const res = await run.removeAccount(account);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ upstream_revoked: boolean }>().upstream_revoked, true);
    assert.ok(run.provider.isRevoked(accessToken));
  });

  it("a code GitHub refuses with HTTP 200 and an error body fails the connect with that error", async () => {
    run.provider.failNextToken("bad_verification_code", "The code passed is incorrect or expired.");
    await assert.rejects(run.connect(), /connect failed/);
  });
});

describe("github.yaml against a GitHub App with expiring user tokens", () => {
  let run: ConformanceRun;
  before(async () => {
    run = await startConformance({ connector: "github", origins: ORIGINS, provider: gitHubProfile({ githubApp: true }), user: gitHubUser(3) });
  });
  after(() => run?.stop());

  it("keeps the 8-hour expiry and the rotated refresh token", async () => {
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.credentialExpirySource, "expires_in");
    const first = (await run.credentials(account.accountId))!.refreshToken;
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    const second = (await run.credentials(account.accountId))!.refreshToken;
    assert.notEqual(second, first);
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed", "the rotated one works");
  });
});
