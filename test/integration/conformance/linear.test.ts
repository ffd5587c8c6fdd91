/**
 * connectors/linear.yaml against a fake Linear that behaves as Linear
 * documents (test/support/conformance/providers/linear.ts): comma-separated
 * scopes, 24-hour tokens with rotating refresh tokens, a token response whose
 * `scope` is a JSON array, and a GraphQL API taken by POST.
 *
 * The broker cannot connect Linear yet (linear.yaml's `# needs:`):
 * openid-client refuses a `scope` that is not a string, and identity.url is
 * a GET. The first two tests pin both down and fail when they change; the
 * `todo` test is what must then pass.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { linearProfile, linearUser } from "../../support/conformance/providers/linear.js";
import type { FakeProviderProfile } from "../../support/conformance/fake-provider.js";

const ORIGINS = ["https://linear.app", "https://api.linear.app"];

async function withRun(body: (run: ConformanceRun) => Promise<void>, provider: FakeProviderProfile = linearProfile()): Promise<void> {
  const run = await startConformance({ connector: "linear", origins: ORIGINS, provider, user: linearUser(1) });
  try {
    await body(run);
  } finally {
    await run.stop();
  }
}

describe("linear.yaml against Linear's documented behaviour", () => {
  it("today: the authorization request is Linear's, and the token response's scope array is refused", async () => {
    await withRun(async (run) => {
      await assert.rejects(run.connect(), /connect failed: .*invalid response during the code exchange/);
      const authorize = run.provider.requestsTo("GET", "/oauth/authorize")[0]!;
      assert.equal(authorize.query.get("scope"), "read");
      assert.equal(authorize.query.get("code_challenge_method"), "S256");
      assert.equal(run.provider.requestsTo("POST", "/oauth/token").length, 1);
      assert.equal(await run.broker.services.db.account.count(), 0);
    });
  });

  it("today: with a scope string instead, the GET identity query is refused", async () => {
    const linear = linearProfile();
    const stringScope: FakeProviderProfile = { ...linear, tokenResponse: async (issued) => ({ ...(await linear.tokenResponse(issued)), scope: issued.scope }) };
    await withRun(async (run) => {
      await assert.rejects(run.connect(), /connect failed: .*identity URL answered HTTP 400/);
      assert.equal(run.provider.requestsTo("GET", "/graphql").length, 1);
    }, stringScope);
  });

  it(
    "connects, with data.viewer as who connected",
    { todo: "needs: a token response whose scope is an array; a POST identity call with a GraphQL body" },
    async () => {
      await withRun(async (run) => {
        const account = await run.connect();
        assert.equal((await run.account(account.accountId)).upstreamSubject, linearUser(1).id);
        assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
      });
    },
  );
});
