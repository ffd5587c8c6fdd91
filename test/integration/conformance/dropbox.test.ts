/**
 * connectors/dropbox.yaml against a fake Dropbox that behaves as Dropbox
 * documents (test/support/conformance/providers/dropbox.ts):
 * token_access_type=offline for a refresh token, 4-hour tokens, refresh
 * tokens that do not rotate, and an RPC API where every call is a POST.
 *
 * The broker cannot connect Dropbox yet: identity.url is a GET, and
 * users/get_current_account takes only POST (dropbox.yaml's `# needs:`).
 * The first test says so and fails when that changes; the `todo` test is
 * what must then pass.
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
  it("today: the code exchange (offline, PKCE, Basic) succeeds, and the GET identity call is refused", async () => {
    await withRun(dropboxProfile(), async (run) => {
      await assert.rejects(run.connect(), /connect failed: .*identity URL answered HTTP 400/);
      const authorize = run.provider.requestsTo("GET", "/oauth2/authorize")[0]!;
      assert.equal(authorize.query.get("token_access_type"), "offline");
      assert.equal(authorize.query.get("code_challenge_method"), "S256");
      assert.ok(run.provider.requestsTo("POST", "/oauth2/token")[0]!.headers.authorization?.startsWith("Basic "));
      assert.equal(run.provider.requestsTo("GET", "/2/users/get_current_account").length, 1);
      assert.equal(await run.broker.services.db.account.count(), 0);
    });
  });

  it("connects, with a refresh token that refreshes unrotated", { todo: "needs: a POST identity call (or the token response's account_id)" }, async () => {
    await withRun(dropboxProfile(), async (run) => {
      const account = await run.connect();
      assert.equal((await run.account(account.accountId)).upstreamSubject, dropboxUser(1).id);
      assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
      assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    });
  });
});
