/**
 * RFC 8707 resource indicators and RFC 9728 protected resource metadata: an
 * app asks a token for one resource (a registered resource server, or the
 * broker's proxy), the token carries it as `aud`, and every other resource
 * refuses it. Real broker, real GitHub-like upstream, real browser flow.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import { decodeJwt } from "jose";
import { TestBrowser } from "../../support/browser.js";
import { APP_REDIRECT, fragmentOf, registerApp, startAsFixture, type AsFixture, type FixtureApp } from "../../support/as-fixture.js";
import { createResource, deleteResource, proxyResourceUri } from "../../../src/oauth/resources.js";
import { protectedResourceMetadataUrl } from "../../../src/resource-server/index.js";

const MCP = "https://mcp-a.example.com/mcp";
const LOCAL = "http://127.0.0.1:9/api";
const APP_SCOPES = ["openid", "email", "profile", "offline_access", "proxy", "accounts:read"];

interface TokenAnswer {
  status: number;
  body: Record<string, unknown> & { access_token?: string; refresh_token?: string; scope?: string; error?: string; error_description?: string };
}

describe("resource indicators (RFC 8707)", () => {
  let fixture: AsFixture;
  let issuer: string;
  let app: FixtureApp;
  let implicitApp: FixtureApp;
  let resourceServer: FixtureApp;
  let bystander: FixtureApp;
  let noProxyApp: FixtureApp;
  let nextUser = 70_000;

  before(async () => {
    fixture = await startAsFixture();
    issuer = fixture.broker.services.config.issuer;
    app = await registerApp(fixture, { name: "MCP client", scopes: APP_SCOPES });
    implicitApp = await registerApp(fixture, { name: "Implicit", scopes: APP_SCOPES, responseTypes: ["code", "token", "code id_token"] });
    resourceServer = await registerApp(fixture, { name: "MCP server", scopes: [], grantTypes: ["client_credentials"] });
    bystander = await registerApp(fixture, { name: "Bystander", scopes: APP_SCOPES });
    noProxyApp = await registerApp(fixture, { name: "No proxy", scopes: ["openid"] });
    await createResource(fixture.broker.services.db, issuer, { uri: MCP, name: "MCP A", scopes: ["tools:read", "tools:write"], appId: resourceServer.id });
    await createResource(fixture.broker.services.db, issuer, { uri: LOCAL, scopes: ["b:read"] });
  });

  after(async () => {
    await fixture?.close();
  });

  /** The app's authorization request in a browser, up to the answer at its redirect URI (through the upstream's sign-in when it gets that far). */
  async function authorize(target: FixtureApp, params: Record<string, string | string[]>, responseType = "code") {
    nextUser += 1;
    fixture.github.setUser({ id: nextUser, login: `u${nextUser}`, email: `u${nextUser}@example.test`, name: `User ${nextUser}` });
    const verifier = client.randomPKCECodeVerifier();
    const url = new URL(`${fixture.broker.url}/oauth/authorize`);
    const query: [string, string][] = [
      ["client_id", target.id],
      ["redirect_uri", APP_REDIRECT],
      ["response_type", responseType],
      ["state", "st-1"],
      ["nonce", "n-1"],
      ["connector", "gh"],
      ["code_challenge", await client.calculatePKCECodeChallenge(verifier)],
      ["code_challenge_method", "S256"],
    ];
    for (const [name, value] of Object.entries(params)) for (const v of [value].flat()) query.push([name, v]);
    for (const [name, value] of query) url.searchParams.append(name, value);
    const before = fixture.github.stats.authorize;
    const back = await new TestBrowser().navigate(url.href, { stopAt: (u) => u.href.startsWith(APP_REDIRECT) });
    const answer = back.url.hash ? fragmentOf(back.url) : back.url.searchParams;
    return { answer, verifier, reachedUpstream: fixture.github.stats.authorize > before };
  }

  async function token(target: FixtureApp, form: Record<string, string | string[]>): Promise<TokenAnswer> {
    const body = new URLSearchParams();
    for (const [name, value] of Object.entries(form)) for (const v of [value].flat()) body.append(name, v);
    const res = await fetch(`${fixture.broker.url}/oauth/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`${target.id}:${target.secret}`).toString("base64")}`,
      },
      body,
    });
    return { status: res.status, body: (await res.json()) as TokenAnswer["body"] };
  }

  /** A code for `resource` (and `scope`), exchanged: the token response. */
  async function tokensFor(params: Record<string, string>, exchange: Record<string, string> = {}): Promise<TokenAnswer> {
    const { answer, verifier } = await authorize(app, params);
    const code = answer.get("code");
    assert.ok(code, `a code: ${answer.get("error")} ${answer.get("error_description")}`);
    return token(app, { grant_type: "authorization_code", code, redirect_uri: APP_REDIRECT, code_verifier: verifier, ...exchange });
  }

  function assertRefused(answer: URLSearchParams, error: string, description: RegExp): void {
    assert.equal(answer.get("error"), error, answer.get("error_description") ?? "");
    assert.match(answer.get("error_description") ?? "", description);
    assert.equal(answer.get("state"), "st-1", "sent back with the state, like every authorize error");
  }

  async function call(path: string, accessToken: string, method = "GET") {
    const res = await fetch(`${fixture.broker.url}${path}`, { method, headers: { authorization: `Bearer ${accessToken}` } });
    return { status: res.status, challenge: res.headers.get("www-authenticate") ?? "", body: await res.text() };
  }

  describe("the authorization endpoint checks the resource before the end user sees anything", () => {
    for (const [what, resource, description] of [
      ["an unknown resource", "https://unknown.example.com/mcp", /is not a resource this broker issues tokens for/],
      ["a resource with a fragment", `${MCP}#x`, /must not contain a fragment/],
      ["a relative URI", "/mcp", /is not an absolute URI/],
      ["http on a host that is not loopback", "http://mcp-a.example.com/mcp", /must use https/],
      ["a URI differing from the registered one by a trailing slash (compared exactly)", `${MCP}/`, /is not a resource this broker/],
    ] as const) {
      it(`${what}: invalid_target at the redirect URI`, async () => {
        const { answer, reachedUpstream } = await authorize(app, { resource });
        assertRefused(answer, "invalid_target", description);
        assert.equal(reachedUpstream, false);
      });
    }

    it("several resources: invalid_target, one resource per request", async () => {
      const { answer, reachedUpstream } = await authorize(app, { resource: [MCP, LOCAL] });
      assertRefused(answer, "invalid_target", /one resource per request/);
      assert.equal(reachedUpstream, false);
    });

    it("a scope that is not the resource's: invalid_scope naming it", async () => {
      const { answer } = await authorize(app, { resource: MCP, scope: "tools:read accounts:read" });
      assertRefused(answer, "invalid_scope", /scope "accounts:read" is not a scope of resource/);
      assertRefused((await authorize(app, { resource: MCP, scope: "proxy" })).answer, "invalid_scope", /"proxy"/);
    });

    it("an identity scope the app is not registered for: invalid_scope", async () => {
      assertRefused((await authorize(noProxyApp, { resource: MCP, scope: "email tools:read" })).answer, "invalid_scope", /not registered for scope "email"/);
    });
  });

  describe("authorization_code with a resource", () => {
    it("no scope asked: every scope of the resource, no identity scope, aud the resource", async () => {
      const answer = await tokensFor({ resource: MCP });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.scope, "tools:read tools:write");
      const claims = decodeJwt(answer.body.access_token!);
      assert.equal(claims.aud, MCP);
      assert.equal(claims.scope, "tools:read tools:write");
      assert.equal(answer.body.id_token, undefined);
      assert.equal(answer.body.refresh_token, undefined);
      const code = await fixture.broker.services.db.authorizationCode.findFirst({ where: { appId: app.id }, orderBy: { createdAt: "desc" } });
      assert.equal(code?.resource, MCP, "stored with the code");
    });

    it("the resource's scopes and identity scopes; the token request may name the same resource again", async () => {
      const answer = await tokensFor({ resource: MCP, scope: "openid offline_access tools:read" }, { resource: MCP });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(decodeJwt(answer.body.access_token!).aud, MCP);
      assert.equal(decodeJwt(answer.body.id_token as string).aud, app.id, "the ID token stays the app's");
      assert.ok(answer.body.refresh_token);
    });

    it("another resource at the token endpoint: invalid_target, and the code is not spent", async () => {
      const { answer, verifier } = await authorize(app, { resource: MCP });
      const code = answer.get("code")!;
      const exchange = { grant_type: "authorization_code", code, redirect_uri: APP_REDIRECT, code_verifier: verifier };
      for (const other of [LOCAL, proxyResourceUri(issuer)]) {
        const refused = await token(app, { ...exchange, resource: other });
        assert.equal(refused.status, 400);
        assert.equal(refused.body.error, "invalid_target");
        assert.match(refused.body.error_description!, /differs from the one the authorization code was issued for/);
      }
      const twice = await token(app, { ...exchange, resource: [MCP, MCP] });
      assert.equal(twice.body.error, "invalid_target");
      assert.match(twice.body.error_description!, /one resource per request/);
      assert.equal((await token(app, exchange)).status, 200);
    });

    it("a resource at the token endpoint for a code issued without one: invalid_target", async () => {
      const refused = await tokensFor({ scope: "proxy" }, { resource: MCP });
      assert.equal(refused.body.error, "invalid_target");
      assert.match(refused.body.error_description!, /issued without a resource/);
    });

    it("without a resource nothing changes: aud is the issuer", async () => {
      const answer = await tokensFor({ scope: "proxy offline_access" });
      assert.equal(decodeJwt(answer.body.access_token!).aud, issuer);
      const refreshed = await token(app, { grant_type: "refresh_token", refresh_token: answer.body.refresh_token! });
      assert.equal(decodeJwt(refreshed.body.access_token!).aud, issuer);
    });
  });

  describe("refresh_token keeps the grant's resource", () => {
    it("refreshed tokens are for the resource; the same resource may be named, another is invalid_target and spends nothing", async () => {
      const first = await tokensFor({ resource: MCP, scope: "offline_access tools:read" });
      const family = await fixture.broker.services.db.refreshFamily.findFirst({ where: { appId: app.id }, orderBy: { createdAt: "desc" } });
      assert.equal(family?.resource, MCP, "stored with the grant");
      const refused = await token(app, { grant_type: "refresh_token", refresh_token: first.body.refresh_token!, resource: LOCAL });
      assert.equal(refused.body.error, "invalid_target");
      assert.match(refused.body.error_description!, /differs from the one the refresh token was issued for/);
      const named = await token(app, { grant_type: "refresh_token", refresh_token: first.body.refresh_token!, resource: MCP });
      assert.equal(named.status, 200, "the refused request did not use the token up");
      assert.equal(decodeJwt(named.body.access_token!).aud, MCP);
      const plain = await token(app, { grant_type: "refresh_token", refresh_token: named.body.refresh_token! });
      assert.equal(decodeJwt(plain.body.access_token!).aud, MCP);
      const unscoped = await tokensFor({ scope: "offline_access proxy" });
      const toResource = await token(app, { grant_type: "refresh_token", refresh_token: unscoped.body.refresh_token!, resource: MCP });
      assert.equal(toResource.body.error, "invalid_target");
      assert.match(toResource.body.error_description!, /issued without a resource/);
    });

    it("a grant whose resource was deleted refreshes no more", async () => {
      const gone = "https://gone.example.com/mcp";
      await createResource(fixture.broker.services.db, issuer, { uri: gone, scopes: ["x"] });
      const { answer, verifier } = await authorize(app, { resource: gone, scope: "x offline_access" });
      const first = await token(app, { grant_type: "authorization_code", code: answer.get("code")!, redirect_uri: APP_REDIRECT, code_verifier: verifier });
      assert.equal(first.status, 200);
      await deleteResource(fixture.broker.services.db, gone);
      const refused = await token(app, { grant_type: "refresh_token", refresh_token: first.body.refresh_token! });
      assert.equal(refused.body.error, "invalid_grant");
      assert.match(refused.body.error_description!, /no longer registered/);
      assertRefused((await authorize(app, { resource: gone })).answer, "invalid_target", /is not a resource this broker/);
    });
  });

  describe("client_credentials with a resource", () => {
    it("aud the resource, its scopes by default or as asked", async () => {
      const all = await token(app, { grant_type: "client_credentials", resource: MCP });
      assert.equal(all.status, 200, JSON.stringify(all.body));
      assert.equal(all.body.scope, "tools:read tools:write");
      assert.equal(decodeJwt(all.body.access_token!).aud, MCP);
      const some = await token(app, { grant_type: "client_credentials", resource: MCP, scope: "tools:write" });
      assert.equal(some.body.scope, "tools:write");
    });

    it("refuses an unknown resource, a scope not the resource's, and an end-user scope", async () => {
      const unknown = await token(app, { grant_type: "client_credentials", resource: "https://unknown.example.com/" });
      assert.equal(unknown.body.error, "invalid_target");
      const foreign = await token(app, { grant_type: "client_credentials", resource: MCP, scope: "b:read" });
      assert.equal(foreign.body.error, "invalid_scope");
      assert.match(foreign.body.error_description!, /"b:read"/);
      const identity = await token(app, { grant_type: "client_credentials", resource: MCP, scope: "openid" });
      assert.equal(identity.body.error, "invalid_scope");
      assert.equal(identity.body.error_description, 'scope "openid" needs an end user and cannot be granted to the app itself');
      const several = await token(app, { grant_type: "client_credentials", resource: [MCP, LOCAL] });
      assert.equal(several.body.error, "invalid_target");
    });

    it("the proxy resource: scope proxy, for apps registered for it only", async () => {
      const proxy = await token(app, { grant_type: "client_credentials", resource: proxyResourceUri(issuer) });
      assert.equal(proxy.body.scope, "proxy");
      assert.equal(decodeJwt(proxy.body.access_token!).aud, proxyResourceUri(issuer));
      const notRegistered = await token(noProxyApp, { grant_type: "client_credentials", resource: proxyResourceUri(issuer) });
      assert.equal(notRegistered.body.error, "invalid_scope");
      assert.match(notRegistered.body.error_description!, /not registered for scope "proxy"/);
      const adminScope = await token(app, { grant_type: "client_credentials", resource: proxyResourceUri(issuer), scope: "accounts:read" });
      assert.equal(adminScope.body.error, "invalid_scope");
    });
  });

  describe("front-channel tokens (implicit, hybrid) carry the resource", () => {
    it("response_type token: the access token in the fragment is for the resource", async () => {
      const { answer } = await authorize(implicitApp, { resource: MCP, scope: "tools:read" }, "token");
      assert.equal(answer.get("error"), null, answer.get("error_description") ?? "");
      const claims = decodeJwt(answer.get("access_token")!);
      assert.equal(claims.aud, MCP);
      assert.equal(answer.get("scope"), "tools:read");
      // Its grant (a grant of its own, as for every front-channel token) is recorded for the resource too.
      const grant = await fixture.broker.services.db.refreshFamily.findUniqueOrThrow({ where: { id: String(claims.gid) } });
      assert.equal(grant.resource, MCP);
      assert.equal(grant.scope, "tools:read");
    });

    it("response_type code id_token: the code keeps the resource", async () => {
      const { answer, verifier } = await authorize(implicitApp, { resource: MCP, scope: "openid tools:read" }, "code id_token");
      const exchanged = await token(implicitApp, {
        grant_type: "authorization_code",
        code: answer.get("code")!,
        redirect_uri: APP_REDIRECT,
        code_verifier: verifier,
      });
      assert.equal(decodeJwt(exchanged.body.access_token!).aud, MCP);
    });
  });

  describe("audience enforcement: a token for one resource is refused by every other", () => {
    it("a token for a registered resource: refused by the proxy, the accounts API and userinfo (even with openid)", async () => {
      const answer = await tokensFor({ resource: MCP, scope: "openid tools:read" });
      const accessToken = answer.body.access_token!;
      const proxied = await call("/v1/proxy/user", accessToken);
      assert.equal(proxied.status, 401);
      assert.match(proxied.body, /for another resource/);
      assert.match(proxied.challenge, /resource_metadata="[^"]+\/.well-known\/oauth-protected-resource\/v1\/proxy"/);
      const accounts = await call("/v1/accounts", accessToken);
      assert.equal(accounts.status, 401);
      assert.match(accounts.challenge, new RegExp(`resource_metadata="${issuer}/.well-known/oauth-protected-resource"`));
      assert.equal((await call("/oauth/userinfo", accessToken)).status, 401, "userinfo is the broker's API: aud must be the issuer");
    });

    it("a token for the proxy resource: accepted by the proxy only", async () => {
      const answer = await tokensFor({ resource: proxyResourceUri(issuer), scope: "openid proxy" });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const accessToken = answer.body.access_token!;
      assert.equal(decodeJwt(accessToken).aud, proxyResourceUri(issuer));
      assert.equal((await call("/v1/proxy/user", accessToken)).status, 200);
      assert.equal((await call("/v1/accounts", accessToken)).status, 401);
      assert.equal((await call("/oauth/userinfo", accessToken)).status, 401);
    });

    it("the proxy resource takes connector scopes as without a resource", async () => {
      const answer = await tokensFor({ resource: proxyResourceUri(issuer), scope: "proxy gh:repo.read" });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.scope, "proxy gh:repo.read");
      assert.equal(decodeJwt(answer.body.access_token!).aud, proxyResourceUri(issuer));
    });

    it("the proxy resource refuses broker scopes the proxy does not read", async () => {
      assertRefused((await authorize(app, { resource: proxyResourceUri(issuer), scope: "proxy accounts:read" })).answer, "invalid_scope", /"accounts:read"/);
    });
  });

  describe("introspection (RFC 7662) of resource tokens", () => {
    async function introspect(caller: FixtureApp, accessToken: string) {
      return (await client.tokenIntrospection(caller.config, accessToken)) as unknown as Record<string, unknown>;
    }

    it("the app that runs the resource learns about its tokens; another app does not", async () => {
      const accessToken = (await tokensFor({ resource: MCP, scope: "tools:read" })).body.access_token!;
      const byResource = await introspect(resourceServer, accessToken);
      assert.equal(byResource.active, true);
      assert.equal(byResource.aud, MCP);
      assert.equal(byResource.client_id, app.id);
      assert.equal(byResource.scope, "tools:read");
      assert.equal((await introspect(app, accessToken)).aud, MCP, "the token's own app too");
      assert.deepEqual(await introspect(bystander, accessToken), { active: false });
    });

    it("the resource's app learns nothing of tokens for other resources or the broker", async () => {
      const forLocal = (await token(app, { grant_type: "client_credentials", resource: LOCAL })).body.access_token!;
      assert.deepEqual(await introspect(resourceServer, forLocal), { active: false });
      const forBroker = (await token(app, { grant_type: "client_credentials", scope: "proxy" })).body.access_token!;
      assert.deepEqual(await introspect(resourceServer, forBroker), { active: false });
    });
  });

  describe("the consent page names the resource", () => {
    it("the picker says where the app's access is", async () => {
      const url = new URL(`${fixture.broker.url}/oauth/authorize`);
      for (const [name, value] of Object.entries({
        client_id: app.id,
        redirect_uri: APP_REDIRECT,
        response_type: "code",
        state: "s",
        resource: MCP,
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: "S256",
      }))
        url.searchParams.set(name, value);
      const page = await new TestBrowser().navigate(url.href);
      assert.match(page.body, /will be able to, at <strong>MCP A<\/strong>/);
      assert.match(page.body, /tools:read/);
    });
  });
});

describe("protected resource metadata (RFC 9728)", () => {
  let fixture: AsFixture;
  before(async () => {
    fixture = await startAsFixture();
  });
  after(async () => {
    await fixture?.close();
  });

  it("the proxy's document, at the well-known URL its URI gives (§3.1)", async () => {
    const issuer = fixture.broker.services.config.issuer;
    const url = protectedResourceMetadataUrl(proxyResourceUri(issuer));
    assert.equal(url, `${issuer}/.well-known/oauth-protected-resource/v1/proxy`);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      resource: proxyResourceUri(issuer),
      authorization_servers: [issuer],
      scopes_supported: ["proxy"],
      bearer_methods_supported: ["header"],
      resource_name: "authbroker proxy",
    });
  });

  it("the broker's APIs' document, for the issuer", async () => {
    const issuer = fixture.broker.services.config.issuer;
    const res = await fetch(`${issuer}/.well-known/oauth-protected-resource`);
    const doc = (await res.json()) as Record<string, unknown>;
    assert.equal(doc.resource, issuer);
    assert.deepEqual(doc.authorization_servers, [issuer]);
    assert.ok((doc.scopes_supported as string[]).includes("accounts:read"));
  });

  it("a challenge without a token points at the document (§5.1)", async () => {
    const issuer = fixture.broker.services.config.issuer;
    const proxied = await fetch(`${issuer}/v1/proxy/user`);
    assert.equal(proxied.status, 401);
    assert.equal(
      proxied.headers.get("www-authenticate"),
      `Bearer realm="authbroker", resource_metadata="${issuer}/.well-known/oauth-protected-resource/v1/proxy"`,
    );
    const accounts = await fetch(`${issuer}/v1/accounts`);
    assert.equal(accounts.headers.get("www-authenticate"), `Bearer realm="authbroker", resource_metadata="${issuer}/.well-known/oauth-protected-resource"`);
  });
});
