/**
 * connectors/reddit.yaml against a fake Reddit that behaves as Reddit
 * documents (test/support/conformance/providers/reddit.ts): a refresh token
 * only for `duration=permanent`, HTTP Basic client authentication, and
 * generic User-Agents throttled.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { redditProfile, redditUser } from "../../support/conformance/providers/reddit.js";

const ORIGINS = ["https://www.reddit.com", "https://oauth.reddit.com"];
const USER_AGENT = "web:com.example.broker:v1.2 (by /u/example_operator)";

describe("reddit.yaml against Reddit's documented behaviour", () => {
  let run: ConformanceRun;

  before(async () => {
    run = await startConformance({
      connector: "reddit",
      origins: ORIGINS,
      provider: redditProfile(),
      user: redditUser(1),
      env: { REDDIT_USER_AGENT: USER_AGENT },
    });
  });
  after(() => run?.stop());

  it("connects with duration=permanent, so the account has a refresh token, and refreshes", async () => {
    const account = await run.connect();
    assert.equal((await run.account(account.accountId)).upstreamSubject, redditUser(1).id);
    assert.ok((await run.credentials(account.accountId))?.refreshToken, "a refresh token");
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed", "the unrotated refresh token keeps working");
  });

  it("sends the operator's User-Agent on token, identity and proxied requests", async () => {
    run.provider.setUser(redditUser(2));
    const account = await run.connect();
    const res = await run.proxy(account, "/r/typescript/hot?limit=1", { headers: { "user-agent": "undici" } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ headers: Record<string, string> }>().headers["user-agent"], USER_AGENT);
    for (const path of ["/api/v1/access_token", "/api/v1/me"]) {
      const agents = new Set(run.provider.requests.filter((r) => r.path === path).map((r) => r.headers["user-agent"]));
      assert.deepEqual([...agents], [USER_AGENT], path);
    }
  });

  it("removing the account revokes its token at /api/v1/revoke_token with Basic client authentication", async () => {
    run.provider.setUser(redditUser(3));
    const account = await run.connect();
    const res = await run.removeAccount(account);
    assert.equal(res.status, 200, res.text);
    const revocation = run.provider.requestsTo("POST", "/api/v1/revoke_token");
    assert.ok(revocation.length > 0 && revocation.every((r) => r.headers.authorization?.startsWith("Basic ")));
  });
});

describe("reddit.yaml's headers and duration are what make it work", () => {
  it("without its User-Agent header, Reddit throttles the identity call and the connect fails", async () => {
    const run = await startConformance({
      connector: "reddit",
      origins: ORIGINS,
      provider: redditProfile(),
      user: redditUser(8),
      edit: (text) => text.replace(/^headers:\n.*\n/m, ""),
    });
    try {
      await assert.rejects(run.connect(), /connect failed/);
    } finally {
      await run.stop();
    }
  });

  it("without duration=permanent, Reddit gives no refresh token", async () => {
    const run = await startConformance({
      connector: "reddit",
      origins: ORIGINS,
      provider: redditProfile(),
      user: redditUser(9),
      env: { REDDIT_USER_AGENT: USER_AGENT },
      edit: (text) => text.replace(/^\s*duration: permanent$/m, "    prompt: none"),
    });
    try {
      const account = await run.connect();
      assert.equal((await run.credentials(account.accountId))?.refreshToken, undefined);
    } finally {
      await run.stop();
    }
  });
});
