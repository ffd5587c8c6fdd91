/**
 * The accounts API for apps (issue 8): list, get and delete the accounts an
 * app owns; deleting revokes the upstream tokens, removes the credentials and
 * revokes the broker tokens bound to the account.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import type { TestBroker } from "../../support/broker.js";
import type { OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { connectTestAccount, registerTestApp, type TestApp, startBrokerWithGitHubLike } from "../../support/flow.js";
import { readCredentials } from "../../../src/accounts/vault.js";

describe("accounts API for apps", () => {
  let setup: Awaited<ReturnType<typeof startBrokerWithGitHubLike>>;
  let broker: TestBroker;
  let upstream: OAuth2Upstream;
  let app: TestApp;
  let otherApp: TestApp;
  let appToken: string;

  before(async () => {
    setup = await startBrokerWithGitHubLike();
    ({ broker, upstream } = setup);
    const scopes = ["openid", "proxy", "offline_access", "accounts:read", "accounts:write"];
    app = await registerTestApp(broker, scopes);
    otherApp = await registerTestApp(broker, scopes);
    appToken = (await client.clientCredentialsGrant(app.config, { scope: "accounts:read accounts:write" })).access_token;
  });

  after(async () => {
    await setup?.stop();
  });

  const call = (path: string, token: string, method = "GET") => fetch(`${broker.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });

  it("an app lists and reads its own accounts, without any credential", async () => {
    upstream.setUser({ id: 11, login: "l1", email: "l1@example.test", name: "L1" });
    const { accountId } = await connectTestAccount(app, "gh");
    const res = await call("/v1/accounts?limit=10", appToken);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { data: { id: string; connector: string; profile: { email: string } }[]; next_cursor: string | null };
    const mine = body.data.find((a) => a.id === accountId);
    assert.ok(mine);
    assert.equal(mine.connector, "gh");
    assert.equal(mine.profile.email, "l1@example.test");
    const text = JSON.stringify(body);
    for (const token of upstream.issuedAccessTokens()) assert.ok(!text.includes(token), "no upstream token in the listing");
    const one = await call(`/v1/accounts/${accountId}`, appToken);
    assert.equal(one.status, 200);
  });

  it("pages with a cursor", async () => {
    upstream.setUser({ id: 12, login: "l2", email: "l2@example.test", name: "L2" });
    await connectTestAccount(app, "gh");
    const first = (await (await call("/v1/accounts?limit=1", appToken)).json()) as { data: { id: string }[]; next_cursor: string };
    assert.equal(first.data.length, 1);
    assert.ok(first.next_cursor);
    const second = (await (await call(`/v1/accounts?limit=1&cursor=${first.next_cursor}`, appToken)).json()) as { data: { id: string }[] };
    assert.notEqual(second.data[0]!.id, first.data[0]!.id);
  });

  it("another app's account is 404, and bad queries are validation errors", async () => {
    upstream.setUser({ id: 13, login: "l3", email: "l3@example.test", name: "L3" });
    const { accountId } = await connectTestAccount(otherApp, "gh");
    const res = await call(`/v1/accounts/${accountId}`, appToken);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: string }).error, "not_found");
    assert.equal((await call(`/v1/accounts/${accountId}`, appToken, "DELETE")).status, 404);
    const bad = await call("/v1/accounts?limit=100000", appToken);
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: string }).error, "validation_failed");
  });

  it("a token without accounts:read, or no token, is refused with a bearer challenge", async () => {
    const proxyOnly = (await client.clientCredentialsGrant(app.config, { scope: "proxy" })).access_token;
    const res = await call("/v1/accounts", proxyOnly);
    assert.equal(res.status, 403);
    assert.match(res.headers.get("www-authenticate") ?? "", /insufficient_scope/);
    const none = await fetch(`${broker.url}/v1/accounts`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer/);
    assert.doesNotMatch(none.headers.get("www-authenticate") ?? "", /error/, "RFC 6750 §3.1: no error details without credentials");
    const forged = await call("/v1/accounts", `${appToken.slice(0, -4)}AAAA`);
    assert.equal(forged.status, 401);
  });

  it("an account-bound token sees only its own account", async () => {
    upstream.setUser({ id: 24, login: "l24", email: "l24@example.test", name: "L24" });
    const other = await connectTestAccount(app, "gh");
    upstream.setUser({ id: 14, login: "l4", email: "l4@example.test", name: "L4" });
    const { accountId, tokens } = await connectTestAccount(app, "gh", "accounts:read proxy");
    assert.notEqual(other.accountId, accountId);
    const list = (await (await call("/v1/accounts", tokens.access_token)).json()) as { data: { id: string }[] };
    assert.deepEqual(
      list.data.map((a) => a.id),
      [accountId],
    );
    // A cursor before every id must not widen the listing to the app's other accounts.
    for (const cursor of ["0", "", "acc", accountId.slice(0, -1)]) {
      const paged = (await (await call(`/v1/accounts?cursor=${encodeURIComponent(cursor)}`, tokens.access_token)).json()) as { data: { id: string }[] };
      assert.deepEqual(
        paged.data.map((a) => a.id),
        [accountId],
        `cursor=${cursor}`,
      );
    }
  });

  it("DELETE revokes upstream tokens, removes credentials and revokes the account's broker tokens", async () => {
    upstream.setUser({ id: 15, login: "l5", email: "l5@example.test", name: "L5" });
    const { accountId, tokens } = await connectTestAccount(app, "gh", "accounts:read proxy offline_access");
    const upstreamTokens = await readCredentials(broker.services.db, broker.services.keyring, accountId);
    assert.equal((await fetch(upstream.userUrl, { headers: { authorization: `Bearer ${upstreamTokens!.accessToken}` } })).status, 200);
    const res = await call(`/v1/accounts/${accountId}`, appToken, "DELETE");
    assert.equal(res.status, 200);
    const body = (await res.json()) as { deleted: boolean; upstream_revoked: boolean };
    assert.equal(body.deleted, true);
    assert.equal(body.upstream_revoked, true);
    assert.equal(
      (await fetch(upstream.userUrl, { headers: { authorization: `Bearer ${upstreamTokens!.accessToken}` } })).status,
      401,
      "the upstream token was revoked at the upstream",
    );
    assert.equal(await broker.services.db.account.count({ where: { id: accountId } }), 0);
    assert.equal(await broker.services.db.credential.count({ where: { accountId } }), 0);
    assert.equal((await call(`/v1/accounts/${accountId}`, tokens.access_token)).status, 401, "the account-bound access token is revoked");
    await assert.rejects(client.refreshTokenGrant(app.config, tokens.refresh_token!), (e: client.ResponseBodyError) => e.error === "invalid_grant");
    const audit = await broker.services.db.auditEvent.findMany({ where: { accountId, action: "account.deleted" } });
    assert.equal(audit.length, 1);
  });
});
