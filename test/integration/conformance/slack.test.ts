/**
 * connectors/slack.yaml against a fake Slack that behaves as Slack documents
 * (test/support/conformance/providers/slack.ts): OAuth v2's bot token with
 * `token_type: "bot"`, comma-separated scopes, HTTP 200 errors, auth.test.
 *
 * openid-client accepts only bearer (and DPoP) token types; slack.yaml
 * declares Slack's `bot` and `user` (auth.tokenResponse.bearerTokenTypes).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { slackProfile, slackWorkspace } from "../../support/conformance/providers/slack.js";
import type { FakeProviderProfile } from "../../support/conformance/fake-provider.js";

const ORIGINS = ["https://slack.com"];

async function withRun(provider: FakeProviderProfile, body: (run: ConformanceRun) => Promise<void>): Promise<void> {
  const run = await startConformance({ connector: "slack", origins: ORIGINS, provider, user: slackWorkspace(1) });
  try {
    await body(run);
  } finally {
    await run.stop();
  }
}

/** Slack's answer with another `token_type`. */
function typedSlack(tokenType: string, options: { rotation?: boolean } = {}): FakeProviderProfile {
  const slack = slackProfile(options);
  return { ...slack, tokenResponse: async (issued) => ({ ...(await slack.tokenResponse(issued)), token_type: tokenType }) };
}

describe("slack.yaml against Slack's documented behaviour", () => {
  it("connects the workspace with the bot token, asked for with comma-separated bot scopes", async () => {
    await withRun(slackProfile(), async (run) => {
      const account = await run.connect();
      assert.equal((await run.account(account.accountId)).upstreamSubject, slackWorkspace(1).id);
      assert.equal(run.provider.requestsTo("GET", "/oauth/v2/authorize")[0]!.query.get("scope"), "channels:read,team:read");
      const token = run.provider.requestsTo("POST", "/api/oauth.v2.access");
      assert.equal(token[0]!.form?.get("client_secret"), slackProfile().client.secret);
      assert.equal((await run.credentials(account.accountId))!.tokenType, "bearer", "kept as it is used");
      const res = await run.proxy(account, "/conversations.list?limit=1");
      assert.equal(res.status, 200, res.text);
      assert.match(res.json<{ headers: Record<string, string> }>().headers.authorization ?? "", /^Bearer at-/);
    });
  });

  it("a user token (token_type user) is taken as well", async () => {
    await withRun(typedSlack("user"), async (run) => {
      const account = await run.connect();
      assert.equal((await run.account(account.accountId)).upstreamSubject, slackWorkspace(1).id);
    });
  });

  it("a token_type the file does not declare is still refused (mac)", async () => {
    await withRun(typedSlack("mac"), async (run) => {
      await assert.rejects(run.connect(), /connect failed: .*invalid response during the code exchange/);
      assert.equal(run.provider.requestsTo("GET", "/api/auth.test").length, 0);
      assert.equal(await run.broker.services.db.account.count(), 0);
    });
  });

  it("without auth.tokenResponse, Slack's token_type bot is refused", async () => {
    const run = await startConformance({
      connector: "slack",
      origins: ORIGINS,
      provider: slackProfile(),
      user: slackWorkspace(1),
      edit: (text) => text.replace(/  tokenResponse:\n    bearerTokenTypes: \[bot, user\]\n/, ""),
    });
    try {
      await assert.rejects(run.connect(), /connect failed: .*invalid response during the code exchange/);
    } finally {
      await run.stop();
    }
  });

  it("the rest of the file works: team id, no expiry, auth.revoke", async () => {
    await withRun(slackProfile(), async (run) => {
      const account = await run.connect();
      const row = await run.account(account.accountId);
      assert.equal(row.upstreamSubject, slackWorkspace(1).id);
      assert.equal((row.profile as { name?: string }).name, "Acme 1");
      assert.equal(row.credentialExpirySource, "connector_default");
      const res = await run.proxy(account, "/conversations.list?limit=1");
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json<{ path: string }>().path, "/api/conversations.list");
      const accessToken = (await run.credentials(account.accountId))!.accessToken!;
      const removed = await run.removeAccount(account);
      assert.equal(removed.status, 200, removed.text);
      assert.ok(run.provider.isRevoked(accessToken), "auth.revoke got the token");
    });
  });

  it("with token rotation on, the 12-hour token refreshes (token_type bot again)", async () => {
    await withRun(slackProfile({ rotation: true }), async (run) => {
      const account = await run.connect();
      assert.equal((await run.account(account.accountId)).credentialExpirySource, "expires_in");
      assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
      assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    });
  });

  it("a code Slack refuses (HTTP 200, ok: false) fails the connect", async () => {
    await withRun(slackProfile(), async (run) => {
      run.provider.failNextToken("invalid_code");
      await assert.rejects(run.connect(), /connect failed/);
      assert.equal(await run.broker.services.db.account.count(), 0);
    });
  });
});
