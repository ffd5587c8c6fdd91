/**
 * Step-up authorization (RFC 6750 §3.1, as MCP clients use it): a call whose
 * token lacks the scope it needs gets 403 `insufficient_scope` naming that
 * scope in `WWW-Authenticate`; the app authorizes again with the union of
 * what it had and what was named, through the real authorize flow, and the
 * new token carries both, for the same account.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import { connectTestAccount, registerTestApp, startBrokerWithGitHubLike, type TestApp } from "../../support/flow.js";
import type { TestBroker } from "../../support/broker.js";

/** The `scope` parameter of a Bearer challenge. */
function challengedScope(response: Response): string[] {
  const challenge = response.headers.get("www-authenticate") ?? "";
  assert.match(challenge, /^Bearer /);
  assert.match(challenge, /error="insufficient_scope"/);
  const scope = /scope="([^"]*)"/.exec(challenge)?.[1];
  assert.ok(scope, challenge);
  return scope.split(" ");
}

describe("step-up: insufficient_scope names the scope, re-authorization with the union gets both", () => {
  let started: Awaited<ReturnType<typeof startBrokerWithGitHubLike>>;
  let broker: TestBroker;
  let app: TestApp;

  before(async () => {
    started = await startBrokerWithGitHubLike();
    broker = started.broker;
    app = await registerTestApp(broker, ["offline_access", "proxy", "accounts:read"]);
  });

  after(async () => {
    await started?.stop();
  });

  for (const [had, call, needed] of [
    ["accounts:read", (token: string) => fetch(`${broker.url}/v1/proxy/user`, { headers: { authorization: `Bearer ${token}` } }), "proxy"],
    [
      "proxy",
      (token: string) => fetch(`${broker.url}/v1/accounts/${String(decodeJwt(token).acct)}`, { headers: { authorization: `Bearer ${token}` } }),
      "accounts:read",
    ],
  ] as const) {
    it(`a token with ${had} calling what needs ${needed}`, async () => {
      const first = await connectTestAccount(app, "gh", had);
      const refused = await call(first.tokens.access_token);
      assert.equal(refused.status, 403);
      assert.equal(((await refused.json()) as { error: string }).error, "insufficient_scope");
      const named = challengedScope(refused);
      assert.deepEqual(named, [needed]);

      const union = [...new Set([...had.split(" "), ...named])].join(" ");
      const second = await connectTestAccount(app, "gh", union);
      assert.equal(second.accountId, first.accountId, "the same upstream user: the same account");
      const scopes = String(decodeJwt(second.tokens.access_token).scope).split(" ");
      assert.ok(scopes.includes(had) && scopes.includes(needed), scopes.join(" "));
      const allowed = await call(second.tokens.access_token);
      assert.equal(allowed.status, 200, await allowed.text());
    });
  }
});
