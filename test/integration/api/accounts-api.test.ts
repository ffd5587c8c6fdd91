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
import { accountToken, storeTestAccount } from "../../support/api-upstream.js";

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
    const body = (await res.json()) as { deleted: boolean; upstream_revoked: boolean; grants_revoked: number };
    assert.equal(body.deleted, true);
    assert.equal(body.grants_revoked, 1, "the grant the end user gave the app");
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

  describe("what the mutation run showed untested (docs/security.md, Mutation testing)", () => {
    /** A new app of its own, so its listing holds exactly the accounts stored here. */
    let lister: TestApp;
    let listerToken: string;
    let ids: string[];

    before(async () => {
      lister = await registerTestApp(broker, ["accounts:read", "accounts:write"]);
      listerToken = (await client.clientCredentialsGrant(lister.config, { scope: "accounts:read accounts:write" })).access_token;
      ids = [];
      for (const connectorId of ["gh", "gh", "gh"])
        ids.push(await storeTestAccount(broker.services, { appId: lister.id, connectorId, tokens: { accessToken: "t" } }));
      await broker.services.db.account.update({ where: { id: ids[2]! }, data: { status: "needs_reauth" } });
      ids.sort();
      // Stored, and dated, in descending id order: a listing that is not ordered by id would come back reversed.
      for (const [i, id] of [...ids].reverse().entries())
        await broker.services.db.account.update({ where: { id }, data: { createdAt: new Date(Date.UTC(2020, 0, 1 + i)) } });
    });

    type Listing = { data: { id: string; status: string }[]; next_cursor: string | null };
    const list = async (query: string, token = listerToken) => {
      const res = await call(`/v1/accounts${query}`, token);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("cache-control"), "no-store");
      return (await res.json()) as Listing;
    };

    it("pages in id order, with next_cursor the last id of a full page and null on the last page", async () => {
      const first = await list("?limit=2");
      assert.deepEqual(
        first.data.map((a) => a.id),
        ids.slice(0, 2),
      );
      assert.equal(first.next_cursor, ids[1]);
      const last = await list(`?limit=2&cursor=${first.next_cursor}`);
      assert.deepEqual(
        last.data.map((a) => a.id),
        ids.slice(2),
      );
      assert.equal(last.next_cursor, null);
      const exact = await list("?limit=3");
      assert.equal(exact.data.length, 3);
      assert.equal(exact.next_cursor, null, "a page that holds the rest exactly is the last");
    });

    it("filters by connector and by status", async () => {
      assert.equal((await list("?connector=gh")).data.length, 3);
      assert.equal((await list("?connector=other")).data.length, 0);
      const reauth = await list("?status=needs_reauth");
      assert.equal(reauth.data.length, 1);
      assert.equal(reauth.data[0]!.status, "needs_reauth");
      assert.equal((await list("?status=active")).data.length, 2);
      for (const status of ["revoked", "error"]) assert.equal((await list(`?status=${status}`)).data.length, 0, status);
    });

    it("a bad query names the parameter it is about", async () => {
      for (const [query, param] of [
        ["?limit=0", "limit"],
        ["?status=gone", "status"],
        [`?cursor=${"x".repeat(65)}`, "cursor"],
      ]) {
        const res = await call(`/v1/accounts${query}`, listerToken);
        assert.equal(res.status, 400);
        const body = (await res.json()) as { error: string; error_description: string };
        assert.equal(body.error, "validation_failed");
        assert.ok(body.error_description.startsWith(`${param}: `), body.error_description);
      }
    });

    it("an account-bound token reads and deletes only its own account; an over-long id is 404", async () => {
      const [own, sibling] = [ids[0]!, ids[1]!];
      const bound = await accountToken(broker.services, { appId: lister.id, accountId: own, connectorId: "gh", scope: "accounts:read accounts:write" });
      const read = await call(`/v1/accounts/${own}`, bound);
      assert.equal(read.status, 200);
      assert.equal(read.headers.get("cache-control"), "no-store");
      assert.equal(((await read.json()) as { id: string }).id, own);
      const hidden = await call(`/v1/accounts/${sibling}`, bound);
      assert.equal(hidden.status, 404);
      assert.equal(((await hidden.json()) as { error_description: string }).error_description, `account ${sibling} does not exist`);
      const foreign = await call(`/v1/accounts/${sibling}`, appToken);
      assert.equal(((await foreign.json()) as { error_description: string }).error_description, `account ${sibling} does not exist`, "another app's");
      assert.equal((await call(`/v1/accounts/${sibling}`, bound, "DELETE")).status, 404);
      assert.equal(await broker.services.db.account.count({ where: { id: sibling } }), 1, "the sibling is still there");
      assert.equal((await call(`/v1/accounts/${"a".repeat(65)}`, listerToken)).status, 404);
    });

    it("a deletion says what it revoked and is recorded as the app's act", async () => {
      const accountId = await storeTestAccount(broker.services, { appId: lister.id, connectorId: "gh", tokens: { accessToken: "t" } });
      const res = await call(`/v1/accounts/${accountId}`, listerToken, "DELETE");
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { id: accountId, deleted: true, upstream_revoked: true, grants_revoked: 0 });
      const [event] = await broker.services.db.auditEvent.findMany({ where: { accountId, action: "account.deleted" } });
      assert.equal(event?.actorType, "app");
      assert.equal(event?.actorId, lister.id);
      assert.equal(typeof event?.requestId, "string");
    });
  });
});
