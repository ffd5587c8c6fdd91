/**
 * connectors/notion.yaml against a fake Notion that behaves as Notion
 * documents (test/support/conformance/providers/notion.ts): HTTP Basic at the
 * token endpoint, no expires_in and rotating refresh tokens, the bot user at
 * /v1/users/me, and a Notion-Version header required on every API call.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { notionConnection, notionProfile } from "../../support/conformance/providers/notion.js";

const ORIGINS = ["https://api.notion.com"];

describe("notion.yaml against Notion's documented behaviour", () => {
  let run: ConformanceRun;
  before(async () => {
    run = await startConformance({ connector: "notion", origins: ORIGINS, provider: notionProfile(), user: notionConnection(1) });
  });
  after(() => run?.stop());

  it("connects with owner=user and Basic client authentication; the account is the bot, named for its owner", async () => {
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.upstreamSubject, notionConnection(1).id);
    assert.equal((row.profile as { email?: string }).email, "christine1@example.com");
    assert.equal((row.profile as { name?: string }).name, "Christine 1");
    const authorize = run.provider.requestsTo("GET", "/v1/oauth/authorize")[0]!;
    assert.equal(authorize.query.get("owner"), "user");
    const token = run.provider.requestsTo("POST", "/v1/oauth/token")[0]!;
    assert.ok(token.headers.authorization?.startsWith("Basic "));
  });

  it("without expires_in, the token is renewed after the probe hour, with each rotated refresh token", async () => {
    run.provider.setUser(notionConnection(2));
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.credentialExpirySource, "probe");
    const lifetime = row.credentialExpiresAt!.getTime() - Date.now();
    assert.ok(lifetime > 3000_000 && lifetime <= 3900_000, `about an hour and the margin, got ${lifetime} ms`);
    const first = (await run.credentials(account.accountId))!.refreshToken;
    assert.ok(first);
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    assert.notEqual((await run.credentials(account.accountId))!.refreshToken, first);
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed", "the rotated one works");
    const refresh = run.provider.requestsTo("POST", "/v1/oauth/token").filter((r) => r.form?.get("grant_type") === "refresh_token");
    assert.ok(refresh.every((r) => r.headers.authorization?.startsWith("Basic ")));
  });

  it("one person's connections to two workspaces are two accounts", async () => {
    run.provider.setUser(notionConnection(3, 7));
    const first = await run.connect();
    run.provider.setUser(notionConnection(4, 7));
    const second = await run.connect();
    assert.notEqual(first.accountId, second.accountId);
  });

  it("sends Notion-Version to /v1/users/me and on proxied calls, replacing the app's", async () => {
    run.provider.setUser(notionConnection(5));
    const account = await run.connect();
    const res = await run.proxy(account, "/search", {
      method: "POST",
      headers: { "notion-version": "2021-05-13", "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(res.status, 200, res.text);
    const echoed = res.json<{ path: string; headers: Record<string, string> }>();
    assert.equal(echoed.path, "/v1/search");
    assert.equal(echoed.headers["notion-version"], "2022-06-28");
  });
});

describe("notion.yaml's Notion-Version header is what makes it work", () => {
  it("without it, /v1/users/me answers 400 missing_version and the connect fails", async () => {
    const run = await startConformance({
      connector: "notion",
      origins: ORIGINS,
      provider: notionProfile(),
      user: notionConnection(9),
      edit: (text) => {
        const without = text.replace(/^headers:\n(?:\s+#.*\n)*\s+Notion-Version:.*\n/m, "");
        assert.notEqual(without, text, "the edit removed the header");
        return without;
      },
    });
    try {
      await assert.rejects(run.connect(), /connect failed/);
    } finally {
      await run.stop();
    }
  });
});
