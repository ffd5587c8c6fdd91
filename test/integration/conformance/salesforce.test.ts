/**
 * connectors/salesforce.yaml against a fake Salesforce org that behaves as
 * Salesforce documents (test/support/conformance/providers/salesforce.ts):
 * no `expires_in`, an ID token issued by login.salesforce.com rather than
 * the My Domain, refresh tokens that do not rotate.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Prisma } from "../../../src/generated/prisma/client.js";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { salesforceProfile, salesforceUser } from "../../support/conformance/providers/salesforce.js";

const ORIGINS = ["https://{hostname}"];
/** The file's allowed hosts for instance_url, served by the fake. */
const VALUE_HOSTS = ["*.my.salesforce.com"];

/** A second Salesforce instance host: a real local server that records what reaches it. */
async function startInstanceHost(): Promise<{ origin: string; host: string; requests: { path: string; authorization?: string }[]; close(): Promise<void> }> {
  const requests: { path: string; authorization?: string }[] = [];
  const server = createServer((req, res) => {
    requests.push({ path: req.url ?? "", authorization: req.headers.authorization });
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ served: "instance", path: req.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin: `http://${host}`, host, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe("salesforce.yaml against Salesforce's documented behaviour", () => {
  let run: ConformanceRun;

  before(async () => {
    run = await startConformance({
      connector: "salesforce",
      origins: ORIGINS,
      valueHosts: VALUE_HOSTS,
      perServer: true,
      provider: salesforceProfile(),
      user: salesforceUser(1),
    });
  });
  after(() => run?.stop());

  it("connects at the org's My Domain although the ID token is issued by login.salesforce.com", async () => {
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.hostname, run.hostname);
    assert.equal(row.upstreamSubject, salesforceUser(1).id);
    assert.deepEqual(row.profile, { email: "user1@acme.example", email_verified: true, name: "Sales User 1" });
  });

  it("without expires_in, the token gets the file's default lifetime, and is refreshed before it ends", async () => {
    run.provider.setUser(salesforceUser(2));
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.credentialExpirySource, "connector_default");
    const lifetime = row.credentialExpiresAt!.getTime() - Date.now();
    assert.ok(lifetime > 0 && lifetime <= 900_000, `expires within the shortest session timeout Salesforce allows, got ${lifetime} ms`);
    const refreshed = await run.refresh(account.accountId);
    assert.equal(refreshed.outcome, "refreshed");
    const before = run.provider.issuedRefreshTokens().length;
    assert.equal((await run.refresh(account.accountId)).outcome, "refreshed", "the unrotated refresh token is kept and works again");
    assert.equal(run.provider.issuedRefreshTokens().length, before, "Salesforce issued no new refresh token");
  });

  it("the proxy reaches the REST API under /services/data", async () => {
    run.provider.setUser(salesforceUser(3));
    const account = await run.connect();
    const res = await run.proxy(account, "/v62.0/sobjects/Account?limit=1");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ path: string }>().path, "/services/data/v62.0/sobjects/Account");
    const apex = await run.proxy(account, "/@apexrest/orders/42", { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    assert.equal(apex.status, 200, apex.text);
    assert.equal(apex.json<{ path: string }>().path, "/services/apexrest/orders/42", "@apexrest is the org's Apex REST services");
  });

  it("removing the account revokes its token at /services/oauth2/revoke", async () => {
    run.provider.setUser(salesforceUser(4));
    const account = await run.connect();
    const res = await run.removeAccount(account);
    assert.equal(res.status, 200, res.text);
    assert.equal(run.provider.requestsTo("POST", "/services/oauth2/revoke").length > 0, true);
  });
});

describe("salesforce.yaml's idTokenIssuer is what makes it work", () => {
  it("without it, the code exchange fails on the ID token's issuer, as against Salesforce", async () => {
    const run = await startConformance({
      connector: "salesforce",
      origins: ORIGINS,
      valueHosts: VALUE_HOSTS,
      perServer: true,
      provider: salesforceProfile(),
      user: salesforceUser(9),
      edit: (text) => text.replace(/^\s*idTokenIssuer:.*$/m, ""),
    });
    try {
      await assert.rejects(run.connect(), /connect failed/);
    } finally {
      await run.stop();
    }
  });
});

describe("salesforce.yaml calls the REST API at the token response's instance_url", () => {
  it("the API base is the instance_url, kept with the account and read again at refresh; identity stays on the My Domain", async () => {
    const instance = await startInstanceHost();
    const run = await startConformance({
      connector: "salesforce",
      origins: ORIGINS,
      valueHosts: VALUE_HOSTS,
      perServer: true,
      provider: salesforceProfile({ instanceUrl: instance.origin }),
      user: salesforceUser(10),
      // The instance is another host than the My Domain typed: the file's own pattern plus this one.
      edit: (text) => text.replace(/hosts: \["127\.0\.0\.1:\d+"\]/, (list) => list.replace("]", `, "${instance.host}"]`)),
    });
    try {
      const account = await run.connect();
      assert.deepEqual((await run.credentials(account.accountId))?.values, { instanceUrl: instance.origin });
      const res = await run.proxy(account, "/v62.0/sobjects/Account?limit=1");
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json(), { served: "instance", path: "/services/data/v62.0/sobjects/Account?limit=1" });
      assert.match(instance.requests[0]?.authorization ?? "", /^Bearer /);
      const apex = await run.proxy(account, "/@apexrest/orders/42");
      assert.deepEqual(apex.json(), { served: "instance", path: "/services/apexrest/orders/42" }, "@apexrest is on the instance too");
      assert.equal(run.provider.requests.filter((r) => r.path.startsWith("/services/data/")).length, 0, "nothing went to the My Domain's API");
      assert.equal((await run.refresh(account.accountId)).outcome, "refreshed");
      assert.deepEqual((await run.credentials(account.accountId))?.values, { instanceUrl: instance.origin }, "the refresh response's instance_url is kept");

      // An account stored before the file named instance_url: its first call refreshes, which brings it.
      await run.broker.services.db.credential.update({ where: { accountId: account.accountId }, data: { upstreamValues: Prisma.DbNull } });
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // the proxy's account cache (1 s)
      const refreshes = run.provider.grants.refresh_token ?? 0;
      const upgraded = await run.proxy(account, "/v62.0/limits");
      assert.equal(upgraded.status, 200, upgraded.text);
      assert.deepEqual(upgraded.json(), { served: "instance", path: "/services/data/v62.0/limits" });
      assert.equal((run.provider.grants.refresh_token ?? 0) - refreshes, 1);
      assert.deepEqual((await run.credentials(account.accountId))?.values, { instanceUrl: instance.origin });
    } finally {
      await run.stop();
      await instance.close();
    }
  });

  for (const [what, instanceUrl, problem] of [
    ["on a host the file does not allow", "https://evil.example", /evil\.example, which is not one of the connector's hosts/],
    ["with a path", "https://acme.my.salesforce.com/services", /is not an origin/],
    ["with credentials in it", "https://user@acme.my.salesforce.com", /is not an origin/],
  ] as const) {
    it(`an instance_url ${what} fails the connect`, async () => {
      const run = await startConformance({
        connector: "salesforce",
        origins: ORIGINS,
        valueHosts: VALUE_HOSTS,
        perServer: true,
        provider: salesforceProfile({ instanceUrl }),
        user: salesforceUser(11),
      });
      try {
        await assert.rejects(run.connect(), (err: Error) => {
          assert.match(err.message, /connect failed/);
          assert.match(err.message, problem, "the app is told why");
          return true;
        });
        assert.equal(await run.broker.services.db.account.count(), 0, "no account is stored");
      } finally {
        await run.stop();
      }
    });
  }
});
