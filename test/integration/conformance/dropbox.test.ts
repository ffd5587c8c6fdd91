/**
 * connectors/dropbox.yaml against a fake Dropbox that behaves as Dropbox
 * documents (test/support/conformance/providers/dropbox.ts):
 * token_access_type=offline for a refresh token, 4-hour tokens, refresh
 * tokens that do not rotate, and an RPC API where every call is a POST.
 *
 * users/get_current_account takes only POST: dropbox.yaml says so
 * (identity.method), and sends it no body.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { dropboxProfile, dropboxUser } from "../../support/conformance/providers/dropbox.js";
import type { FakeProviderProfile } from "../../support/conformance/fake-provider.js";

const ORIGINS = ["https://www.dropbox.com", "https://api.dropboxapi.com"];

async function withRun(provider: FakeProviderProfile, body: (run: ConformanceRun) => Promise<void>): Promise<void> {
  const run = await startConformance({ connector: "dropbox", origins: ORIGINS, provider, user: dropboxUser(1) });
  try {
    await body(run);
  } finally {
    await run.stop();
  }
}

describe("dropbox.yaml against Dropbox's documented behaviour", () => {
  it("connects (offline, PKCE, Basic), asking who by a POST without a body, with a refresh token that refreshes unrotated", async () => {
    await withRun(dropboxProfile(), async (run) => {
      const account = await run.connect();
      const row = await run.account(account.accountId);
      assert.equal(row.upstreamSubject, dropboxUser(1).id);
      assert.equal((row.profile as { email?: string }).email, dropboxUser(1).email);
      const authorize = run.provider.requestsTo("GET", "/oauth2/authorize")[0]!;
      assert.equal(authorize.query.get("token_access_type"), "offline");
      assert.equal(authorize.query.get("code_challenge_method"), "S256");
      assert.ok(run.provider.requestsTo("POST", "/oauth2/token")[0]!.headers.authorization?.startsWith("Basic "));
      const identity = run.provider.requestsTo("POST", "/2/users/get_current_account");
      assert.equal(identity.length, 1);
      assert.equal(identity[0]!.body, "", "no body");
      assert.equal(identity[0]!.headers["content-type"], undefined);
      assert.equal(run.provider.requestsTo("GET", "/2/users/get_current_account").length, 0);
      const first = (await run.credentials(account.accountId))!.refreshToken;
      assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
      assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
      assert.equal((await run.credentials(account.accountId))!.refreshToken, first);
    });
  });

  it("removing the account revokes the access token as the bearer of a POST without a body", async () => {
    await withRun(dropboxProfile(), async (run) => {
      const account = await run.connect();
      const accessToken = (await run.credentials(account.accountId))!.accessToken!;
      const removed = await run.removeAccount(account);
      assert.equal(removed.status, 200, removed.text);
      const revoke = run.provider.requestsTo("POST", "/2/auth/token/revoke");
      assert.equal(revoke.length, 1, "the access token only: a refresh token is no bearer credential");
      assert.equal(revoke[0]!.headers.authorization, `Bearer ${accessToken}`);
      assert.equal(revoke[0]!.body, "");
      assert.ok(run.provider.isRevoked(accessToken));
    });
  });

  it("as a GET (identity.method removed), the identity call is refused and nothing is kept", async () => {
    const run = await startConformance({
      connector: "dropbox",
      origins: ORIGINS,
      provider: dropboxProfile(),
      user: dropboxUser(1),
      edit: (text) => text.replace(/  method: POST\n/, ""),
    });
    try {
      await assert.rejects(run.connect(), /connect failed: .*identity URL answered HTTP 400/);
      assert.equal(await run.broker.services.db.account.count(), 0);
    } finally {
      await run.stop();
    }
  });
});
