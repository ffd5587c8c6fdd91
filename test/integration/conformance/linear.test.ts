/**
 * connectors/linear.yaml against a fake Linear that behaves as Linear
 * documents (test/support/conformance/providers/linear.ts): comma-separated
 * scopes, 24-hour tokens with rotating refresh tokens, a token response whose
 * `scope` is a JSON array, and a GraphQL API taken by POST.
 *
 * openid-client refuses a `scope` that is not a string (linear.yaml declares
 * auth.tokenResponse.scopeList), and who connected is a GraphQL query
 * POSTed to /graphql (identity.method and identity.body).
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
  it("connects: Linear's authorization request, the scope list kept as text, data.viewer as who connected", async () => {
    await withRun(async (run) => {
      const account = await run.connect();
      const row = await run.account(account.accountId);
      assert.equal(row.upstreamSubject, linearUser(1).id);
      assert.deepEqual(
        { email: (row.profile as { email?: string }).email, name: (row.profile as { name?: string }).name },
        { email: linearUser(1).email, name: linearUser(1).name },
      );
      const authorize = run.provider.requestsTo("GET", "/oauth/authorize")[0]!;
      assert.equal(authorize.query.get("scope"), "read");
      assert.equal(authorize.query.get("code_challenge_method"), "S256");
      assert.equal((await run.credentials(account.accountId))!.scope, "read");
      const graphql = run.provider.requestsTo("POST", "/graphql");
      assert.equal(graphql.length, 1);
      assert.equal(graphql[0]!.headers["content-type"], "application/json");
      assert.deepEqual(JSON.parse(graphql[0]!.body), { query: "{ viewer { id name email } }" });
      assert.equal(run.provider.requestsTo("GET", "/graphql").length, 0);
      assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    });
  });

  it("removing the account revokes the access token as bearer at /oauth/revoke", async () => {
    await withRun(async (run) => {
      const account = await run.connect();
      const accessToken = (await run.credentials(account.accountId))!.accessToken!;
      const removed = await run.removeAccount(account);
      assert.equal(removed.status, 200, removed.text);
      const revoke = run.provider.requestsTo("POST", "/oauth/revoke");
      assert.equal(revoke.length, 1);
      assert.equal(revoke[0]!.headers.authorization, `Bearer ${accessToken}`);
      assert.ok(run.provider.isRevoked(accessToken));
    });
  });

  it("a scope list with two scopes is kept space-separated", async () => {
    await withRun(async (run) => {
      const account = await run.connect("proxy offline_access accounts:read accounts:write linear:write");
      assert.equal((await run.credentials(account.accountId))!.scope, "read write");
    });
  });

  it("without auth.tokenResponse.scopeList, the scope list is refused", async () => {
    const run = await startConformance({
      connector: "linear",
      origins: ORIGINS,
      provider: linearProfile(),
      user: linearUser(1),
      edit: (text) => text.replace(/  tokenResponse:\n    scopeList: true\n/, ""),
    });
    try {
      await assert.rejects(run.connect(), /connect failed: .*invalid response during the code exchange/);
      assert.equal(await run.broker.services.db.account.count(), 0);
    } finally {
      await run.stop();
    }
  });

  it("as a GET (identity.method removed), the identity query is refused", async () => {
    const run = await startConformance({
      connector: "linear",
      origins: ORIGINS,
      provider: linearProfile(),
      user: linearUser(1),
      edit: (text) => text.replace(/  method: POST\n  body:\n    query: .*\n/, ""),
    });
    try {
      await assert.rejects(run.connect(), /connect failed: .*identity URL answered HTTP 400/);
      assert.equal(run.provider.requestsTo("GET", "/graphql").length, 1);
    } finally {
      await run.stop();
    }
  });
});
