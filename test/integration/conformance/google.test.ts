/**
 * connectors/google.yaml and google-drive.yaml against a fake Google that
 * behaves as Google documents (test/support/conformance/providers/google.ts):
 * OpenID Connect discovery, a refresh token only for access_type=offline,
 * refresh tokens that do not rotate, and an ID token whose claims follow the
 * scopes granted.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { googleProfile, googleUser } from "../../support/conformance/providers/google.js";

const ORIGINS = ["https://accounts.google.com", "https://www.googleapis.com"];

describe("google.yaml against Google's documented behaviour", () => {
  let run: ConformanceRun;
  before(async () => {
    run = await startConformance({ connector: "google", origins: ORIGINS, provider: googleProfile(), user: googleUser(1) });
  });
  after(() => run?.stop());

  it("connects through discovery; the ID token's sub, verified email and name say who", async () => {
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.upstreamSubject, googleUser(1).id);
    assert.equal((row.profile as { email?: string }).email, "user1@gmail.example");
    assert.equal((row.profile as { email_verified?: boolean }).email_verified, true);
    assert.equal((row.profile as { name?: string }).name, "Google User 1");
    const authorize = run.provider.requestsTo("GET", "/o/oauth2/v2/auth")[0]!;
    assert.equal(authorize.query.get("access_type"), "offline");
    assert.equal(authorize.query.get("prompt"), "consent");
  });

  it("refreshes again and again with the unrotated refresh token, each answer with a new ID token", async () => {
    run.provider.setUser(googleUser(2));
    const account = await run.connect();
    const first = (await run.credentials(account.accountId))!.refreshToken;
    assert.ok(first);
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    assert.equal((await run.credentials(account.accountId))!.refreshToken, first);
  });

  it("the proxy reaches www.googleapis.com, and removing the account revokes at the discovered endpoint", async () => {
    run.provider.setUser(googleUser(3));
    const account = await run.connect();
    const res = await run.proxy(account, "/drive/v3/files?pageSize=1");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ path: string }>().path, "/drive/v3/files");
    const refreshToken = (await run.credentials(account.accountId))!.refreshToken!;
    const removed = await run.removeAccount(account);
    assert.equal(removed.status, 200, removed.text);
    assert.ok(run.provider.isRevoked(refreshToken));
  });
});

describe("google.yaml's access_type=offline is what makes it work", () => {
  it("without it, Google gives no refresh token", async () => {
    const run = await startConformance({
      connector: "google",
      origins: ORIGINS,
      provider: googleProfile(),
      user: googleUser(8),
      edit: (text) => {
        const without = text.replace(/^\s*access_type: offline$/m, "");
        assert.notEqual(without, text);
        return without;
      },
    });
    try {
      const account = await run.connect();
      assert.equal((await run.credentials(account.accountId))?.refreshToken, undefined);
    } finally {
      await run.stop();
    }
  });
});

describe("google-drive.yaml against Google's documented behaviour", () => {
  let run: ConformanceRun;
  before(async () => {
    run = await startConformance({ connector: "google-drive", origins: ORIGINS, provider: googleProfile(), user: googleUser(4) });
  });
  after(() => run?.stop());

  it("connects with the default files.read scope (no profile: no name), and reaches Drive v3", async () => {
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.upstreamSubject, googleUser(4).id);
    assert.equal((row.profile as { email?: string }).email, "user4@gmail.example");
    const scope = run.provider.requestsTo("GET", "/o/oauth2/v2/auth")[0]!.query.get("scope")!.split(" ");
    assert.ok(scope.includes("openid") && scope.includes("email") && !scope.includes("profile"), scope.join(" "));
    assert.ok(run.provider.requestsTo("GET", "/v1/userinfo").length > 0, "the ID token has no name: userinfo was asked");
    const res = await run.proxy(account, "/files?pageSize=1");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ path: string }>().path, "/drive/v3/files");
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
  });
});
