/**
 * connectors/microsoft-graph.yaml against a fake Entra ID and Graph that
 * behave as Microsoft documents (test/support/conformance/providers/entra.ts):
 * the multi-tenant `common` endpoint's ID tokens name the user's own tenant
 * as issuer, on the code exchange and on every refresh; Graph's `mail` is
 * null for personal accounts. The file is `oidc` at `common`: discovery
 * answers an issuer template, `…/{tenantid}/v2.0`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { entraPersonalUser, entraProfile, entraWorkUser, type EntraUser } from "../../support/conformance/providers/entra.js";

const ORIGINS = ["https://login.microsoftonline.com", "https://graph.microsoft.com"];

describe("microsoft-graph.yaml against Entra's documented behaviour", () => {
  let run: ConformanceRun;
  const work = entraWorkUser();

  before(async () => {
    run = await startConformance({ connector: "microsoft-graph", origins: ORIGINS, provider: entraProfile(), user: work });
  });
  after(() => run?.stop());

  it("a work account connects although the ID token's issuer names the user's tenant, not the common endpoint", async () => {
    run.provider.setUser(work);
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.upstreamSubject, work.id, "Graph's object id");
    assert.equal((row.profile as { email?: string }).email, work.mail);
    assert.equal((row.profile as { name?: string }).name, work.displayName);
    assert.equal(run.provider.requestsTo("GET", "/common/v2.0/.well-known/openid-configuration").length, 1, "the common issuer was discovered");
    const authorize = run.provider.requestsTo("GET", "/common/oauth2/v2.0/authorize").at(-1)!;
    assert.match(authorize.query.get("scope") ?? "", /\bopenid\b/);
    assert.ok(authorize.query.get("nonce"), "an OpenID Connect sign-in, with a nonce");
    const idToken = JSON.parse(Buffer.from((await run.credentials(account.accountId))!.idToken!.split(".")[1]!, "base64url").toString()) as {
      iss: string;
      tid: string;
    };
    assert.equal(idToken.tid, work.tid);
    assert.match(idToken.iss, new RegExp(`/${work.tid}/v2\\.0$`), "the ID token's iss names the user's tenant");
  });

  it("a personal account, whose Graph mail is null, gets its userPrincipalName as email", async () => {
    const personal: EntraUser = entraPersonalUser();
    run.provider.setUser(personal);
    const account = await run.connect();
    const row = await run.account(account.accountId);
    assert.equal(row.upstreamSubject, personal.id);
    assert.equal((row.profile as { email?: string }).email, personal.userPrincipalName);
  });

  it("every refresh, which brings a new ID token and a new refresh token, succeeds", async () => {
    run.provider.setUser(entraWorkUser());
    const account = await run.connect();
    const before = (await run.credentials(account.accountId))!;
    const first = await run.refresh(account.accountId);
    assert.equal(first.outcome, "refreshed");
    const second = await run.refresh(account.accountId);
    assert.equal(second.outcome, "refreshed");
    assert.notEqual(second.credentials.refreshToken, before.refreshToken, "the rotated refresh token is kept");
    assert.equal((await run.account(account.accountId)).credentialExpirySource, "expires_in");
  });

  it("the proxy reaches Graph v1.0 with the account's token, and a token Graph refuses is refreshed once", async () => {
    run.provider.setUser(entraWorkUser());
    const account = await run.connect();
    const res = await run.proxy(account, "/me/drive/root/children?$top=1");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ path: string }>().path, "/v1.0/me/drive/root/children");
    run.provider.expireAccessTokens();
    const refreshes = run.provider.grants.refresh_token ?? 0;
    const again = await run.proxy(account, "/me");
    assert.equal(again.status, 200, again.text);
    assert.equal((run.provider.grants.refresh_token ?? 0) - refreshes, 1);
  });

  it("@beta reaches Graph's /beta with the same token; an unknown base is refused before anything is sent", async () => {
    run.provider.setUser(entraWorkUser());
    const account = await run.connect();
    const res = await run.proxy(account, "/@beta/me/profile?$select=names");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ path: string }>().path, "/beta/me/profile");
    const sent = run.provider.requests.length;
    const unknown = await run.proxy(account, "/@preview/me");
    assert.equal(unknown.status, 400, unknown.text);
    assert.equal(unknown.json<{ error: string }>().error, "invalid_request");
    assert.match(unknown.json<{ error_description: string }>().error_description, /no API base "@preview"; its bases are @beta/);
    const escape = await run.proxy(account, "/@beta/../v1.0/me");
    assert.equal(escape.status, 400, "a named base keeps the path rules");
    assert.equal(run.provider.requests.length, sent, "nothing was sent upstream");
  });
});

describe("microsoft-graph.yaml (oidc at common): the discovered {tenantid} issuer is what makes it work", () => {
  it("read as a fixed issuer (openid-client's Entra handling lost with its Configuration), the tenant's ID token is refused", async () => {
    const run = await startConformance({
      connector: "microsoft-graph",
      origins: ORIGINS,
      provider: entraProfile({ discoveryIssuer: (origin) => `${origin}/common/v2.0` }),
      user: entraWorkUser(),
    });
    try {
      await assert.rejects(run.connect(), /connect failed/);
      assert.equal(await run.broker.services.db.account.count(), 0);
    } finally {
      await run.stop();
    }
  });

  it("a discovery document naming another issuer is refused (OIDC Discovery §4.3)", async () => {
    const run = await startConformance({
      connector: "microsoft-graph",
      origins: ORIGINS,
      provider: entraProfile({ discoveryIssuer: (origin) => `${origin}/other-tenant/v2.0` }),
      user: entraWorkUser(),
    });
    try {
      await assert.rejects(run.connect(), /connect failed/);
      assert.equal(run.provider.requestsTo("GET", "/common/oauth2/v2.0/authorize").length, 0, "the sign-in never started");
    } finally {
      await run.stop();
    }
  });

  it("the organizations endpoint works the same way", async () => {
    const run = await startConformance({
      connector: "microsoft-graph",
      origins: ORIGINS,
      provider: entraProfile({ tenant: "organizations" }),
      user: entraWorkUser(),
      edit: (text) => text.replace("/common/v2.0", "/organizations/v2.0"),
    });
    try {
      const account = await run.connect();
      assert.equal((await run.account(account.accountId)).status, "active");
    } finally {
      await run.stop();
    }
  });

  it("an ID token from another issuer than the user's tenant is refused", async () => {
    const run = await startConformance({
      connector: "microsoft-graph",
      origins: ORIGINS,
      provider: entraProfile({ idTokenIssuer: (origin) => `${origin}/common/v2.0` }),
      user: entraWorkUser(),
    });
    try {
      await assert.rejects(run.connect(), /connect failed/);
      assert.equal(await run.broker.services.db.account.count(), 0);
    } finally {
      await run.stop();
    }
  });
});
