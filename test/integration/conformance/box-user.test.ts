/**
 * connectors/box-user.yaml against a fake Box that behaves as Box documents
 * for user authentication (test/support/conformance/providers/box.ts): the
 * client secret in the body, one-hour tokens, single-use refresh tokens,
 * revocation with the client in the form. (box.yaml, server authentication
 * with JWT, is run against Box's token endpoint behaviour in
 * test/integration/connectors/org-wide-service-accounts.test.ts.)
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { boxProfile, boxUser } from "../../support/conformance/providers/box.js";

const ORIGINS = ["https://account.box.com", "https://api.box.com"];

describe("box-user.yaml against Box's documented behaviour", () => {
  let run: ConformanceRun;
  before(async () => {
    run = await startConformance({ connector: "box-user", origins: ORIGINS, provider: boxProfile(), user: boxUser(1) });
  });
  after(() => run?.stop());

  it("connects with the client secret in the body; /2.0/users/me says who", async () => {
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.upstreamSubject, boxUser(1).id);
    assert.equal((row.profile as { email?: string }).email, "boxer1@acme.example");
    const token = run.provider.requestsTo("POST", "/oauth2/token")[0]!;
    assert.equal(token.form?.get("client_secret"), boxProfile().client.secret);
  });

  it("keeps each single-use refresh token: the next refresh uses the new one", async () => {
    run.provider.setUser(boxUser(2));
    const account = await run.connect();
    const first = (await run.credentials(account.accountId))!.refreshToken;
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    const second = (await run.credentials(account.accountId))!.refreshToken;
    assert.notEqual(second, first);
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed", "the new one works; the old one would not");
    const presented = run.provider.requestsTo("POST", "/oauth2/token").filter((r) => r.form?.get("grant_type") === "refresh_token");
    assert.deepEqual(
      presented.slice(-2).map((r) => r.form?.get("refresh_token")),
      [first, second],
    );
  });

  it("the proxy reaches /2.0, and removing the account revokes with the client in the form", async () => {
    run.provider.setUser(boxUser(3));
    const account = await run.connect();
    const res = await run.proxy(account, "/folders/0/items?limit=1");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ path: string }>().path, "/2.0/folders/0/items");
    const refreshToken = (await run.credentials(account.accountId))!.refreshToken!;
    const removed = await run.removeAccount(account);
    assert.equal(removed.status, 200, removed.text);
    assert.ok(run.provider.isRevoked(refreshToken));
    assert.ok(run.provider.requestsTo("POST", "/oauth2/revoke").every((r) => r.form?.get("client_secret") === boxProfile().client.secret));
  });
});
