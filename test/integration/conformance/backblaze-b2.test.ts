/**
 * connectors/backblaze-b2.yaml against a fake B2 that behaves as Backblaze
 * documents (test/support/conformance/providers/backblaze-b2.ts): the key
 * is exchanged for a 24-hour authorization token at b2_authorize_account,
 * whose answer names the API host; calls carry `Authorization: <token>`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { b2Profile, b2User } from "../../support/conformance/providers/backblaze-b2.js";

const ORIGINS = ["https://api.backblazeb2.com"];
const VALUE_HOSTS = ["*.backblazeb2.com"];
let current = b2User(1);
const formValues = () => ({ keyId: current.keyId, applicationKey: current.applicationKey });

describe("backblaze-b2.yaml against B2's documented behaviour", () => {
  let run: ConformanceRun;

  before(async () => {
    run = await startConformance({ connector: "backblaze-b2", origins: ORIGINS, valueHosts: VALUE_HOSTS, provider: b2Profile(), user: current, formValues });
  });
  after(() => run?.stop());

  it("logs in with the key, keeps the token for 24 hours and the account's apiUrl", async () => {
    const account = await run.connect();
    const login = run.provider.requestsTo("GET", "/b2api/v3/b2_authorize_account").at(-1)!;
    assert.equal(login.headers.authorization, `Basic ${Buffer.from(`${current.keyId}:${current.applicationKey}`).toString("base64")}`);
    const row = await run.account(account.accountId);
    assert.equal(row.upstreamSubject, current.id, "the B2 account id");
    const lifetime = row.credentialExpiresAt!.getTime() - Date.now();
    assert.ok(lifetime > 86_000_000 && lifetime <= 86_400_000, `lives 24 hours, got ${lifetime} ms`);
    const stored = (await run.credentials(account.accountId))!;
    assert.deepEqual(stored.values, { apiUrl: run.provider.origin, downloadUrl: run.provider.origin });
    assert.deepEqual(stored.fields, formValues(), "the key is kept to log in again");
  });

  it("the proxy sends Authorization: <token> (no Bearer) to apiUrl/b2api/v3, and downloads through @download", async () => {
    current = b2User(2);
    run.provider.setUser(current);
    const account = await run.connect();
    const token = (await run.credentials(account.accountId))!.accessToken!;
    const res = await run.proxy(account, "/b2_list_buckets?accountId=x");
    assert.equal(res.status, 200, res.text);
    const echoed = res.json<{ path: string; headers: Record<string, string> }>();
    assert.equal(echoed.path, "/b2api/v3/b2_list_buckets");
    assert.equal(echoed.headers.authorization, token);
    const download = await run.proxy(account, "/@download/file/photos/cat.jpg");
    assert.equal(download.json<{ path: string }>().path, "/file/photos/cat.jpg");
  });

  it("refreshes by logging in again before the token ends, and after a 401", async () => {
    current = b2User(3);
    run.provider.setUser(current);
    const account = await run.connect();
    const logins = run.provider.grants.key_login ?? 0;
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
    assert.equal((run.provider.grants.key_login ?? 0) - logins, 1, "one new login");
    run.provider.expireAccessTokens();
    const res = await run.proxy(account, "/b2_list_buckets");
    assert.equal(res.status, 200, "an expired token is replaced by a new login and the call retried");
    assert.equal((run.provider.grants.key_login ?? 0) - logins, 2);
  });

  it("a deleted key makes the account need a new connection", async () => {
    current = b2User(4);
    run.provider.setUser(current);
    const account = await run.connect();
    run.provider.revokeKey(current.keyId);
    await assert.rejects(run.refresh(account.accountId), /must be connected again/);
    assert.equal((await run.account(account.accountId)).status, "needs_reauth");
  });

  it("a wrong key is refused on the connect form, and nothing is stored", async () => {
    current = { ...b2User(5), applicationKey: "K005wrong" };
    run.provider.setUser(b2User(5));
    const before = await run.broker.services.db.account.count();
    await assert.rejects(run.connect());
    assert.equal(await run.broker.services.db.account.count(), before);
  });
});

describe("backblaze-b2.yaml's apiUrl must be on Backblaze's hosts", () => {
  it("an apiUrl elsewhere fails the connect", async () => {
    current = b2User(6);
    const run = await startConformance({
      connector: "backblaze-b2",
      origins: ORIGINS,
      valueHosts: VALUE_HOSTS,
      provider: b2Profile({ apiUrl: () => "https://api001.evil.example" }),
      user: current,
      formValues,
    });
    try {
      await assert.rejects(run.connect());
      assert.equal(await run.broker.services.db.account.count(), 0);
    } finally {
      await run.stop();
    }
  });
});
