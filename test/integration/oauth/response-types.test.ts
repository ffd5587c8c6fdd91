/**
 * Implicit and hybrid response types and the response modes (OIDC Core §3.2,
 * §3.3; OAuth 2.0 Multiple Response Type Encoding Practices; Form Post
 * Response Mode; RFC 9700 §2.1.2), end to end: openid-client plays the app,
 * TestBrowser the end user, real upstreams (GitHub-like, oidc-provider)
 * behind the broker.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as client from "openid-client";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import { TestBrowser } from "../../support/browser.js";
import { APP_REDIRECT, fragmentOf, registerApp, startAsFixture, type AsFixture, type FixtureApp } from "../../support/as-fixture.js";
import { accessTokenHash, verifyAccessToken } from "../../../src/oauth/tokens.js";
import { revokeAccountGrants } from "../../../src/revocation/revocation.js";
import { InvalidToken } from "../../../src/errors.js";

const ALL_RESPONSE_TYPES = ["code", "token", "id_token", "id_token token", "code id_token", "code token", "code id_token token"];
const toApp = { stopAt: (u: URL) => u.href.startsWith(APP_REDIRECT) };

describe("implicit and hybrid response types, response modes", () => {
  let fixture: AsFixture;
  let hybridApp: FixtureApp;
  let codeOnlyApp: FixtureApp;
  let spa: FixtureApp;
  let userId = 5000;

  before(async () => {
    fixture = await startAsFixture();
    const scopes = ["openid", "email", "profile", "offline_access", "proxy"];
    hybridApp = await registerApp(fixture, { responseTypes: ALL_RESPONSE_TYPES, scopes, accessTokenTtl: 1800 });
    codeOnlyApp = await registerApp(fixture, { scopes });
    spa = await registerApp(fixture, { isPublic: true, responseTypes: ["code", "token", "id_token", "id_token token"], scopes, accessTokenTtl: 120 });
  });

  after(async () => {
    await fixture?.close();
  });

  function newUser(): void {
    userId += 1;
    fixture.github.setUser({ id: userId, login: `u${userId}`, email: `u${userId}@example.test`, name: `User ${userId}` });
  }

  function authorizeUrl(app: FixtureApp, params: Record<string, string>): URL {
    const url = new URL("/oauth/authorize", fixture.broker.url);
    for (const [k, v] of Object.entries({ client_id: app.id, redirect_uri: APP_REDIRECT, connector: "gh", ...params })) url.searchParams.set(k, v);
    return url;
  }

  /** A Configuration of its own: openid-client's response type switches change the one they are given. */
  function configFor(app: FixtureApp, ...execute: ((config: client.Configuration) => void)[]): Promise<client.Configuration> {
    return client.discovery(new URL(fixture.broker.url), app.id, undefined, client.ClientSecretBasic(app.secret!), {
      execute: [client.allowInsecureRequests, ...execute],
    });
  }

  /** A PKCE verifier and the parameters of its S256 challenge: every request that returns a code needs them. */
  async function pkce(): Promise<{ verifier: string; params: Record<string, string> }> {
    const verifier = client.randomPKCECodeVerifier();
    return { verifier, params: { code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256" } };
  }

  async function verifyIdToken(idToken: string, audience: string) {
    const jwks = createRemoteJWKSet(new URL("/oauth/jwks", fixture.broker.url));
    return (await jwtVerify(idToken, jwks, { issuer: fixture.broker.url, audience })).payload;
  }

  describe("implicit (response_type id_token, id_token token, token)", () => {
    it("id_token in the fragment passes openid-client's implicit authentication, with the nonce and the account as sub", async () => {
      newUser();
      const config = await configFor(hybridApp, client.useIdTokenResponseType);
      const nonce = client.randomNonce();
      const state = client.randomState();
      const url = client.buildAuthorizationUrl(config, { redirect_uri: APP_REDIRECT, scope: "openid email", nonce, state, connector: "gh" });
      assert.equal(url.searchParams.get("response_type"), "id_token");
      const back = await new TestBrowser().navigate(url, toApp);
      assert.equal(back.url.search, "", "nothing in the query string");
      const claims = await client.implicitAuthentication(config, back.url, nonce, { expectedState: state });
      assert.equal(claims.nonce, nonce);
      assert.equal(claims.email, `u${userId}@example.test`);
      assert.equal(claims.name, undefined, "no profile scope, no name (OIDC Core §5.4)");
      const account = await fixture.broker.services.db.account.findUniqueOrThrow({ where: { id: claims.sub } });
      assert.equal(account.upstreamSubject, String(userId));
      assert.equal(fragmentOf(back.url).get("access_token"), null, "id_token alone issues no access token");
      assert.equal(fragmentOf(back.url).get("code"), null);
    });

    it("id_token by form_post: an auto-submitting page, its CSP allowing only that form action and its own script", async () => {
      newUser();
      const config = await configFor(hybridApp, client.useIdTokenResponseType);
      const nonce = client.randomNonce();
      const state = client.randomState();
      const browser = new TestBrowser();
      const page = await browser.navigate(
        client.buildAuthorizationUrl(config, { redirect_uri: APP_REDIRECT, scope: "openid", nonce, state, connector: "gh", response_mode: "form_post" }),
        toApp,
      );
      assert.equal(page.status, 200);
      assert.match(page.body, /<title>Returning to the app/);
      assert.equal(page.stopped, false, "form_post never redirects to the app");
      const csp = page.headers.get("content-security-policy") ?? "";
      assert.match(csp, /form-action 'self' http:\/\/127\.0\.0\.1:9;/);
      const script = /<script>([^<]*)<\/script>/.exec(page.body)?.[1];
      assert.ok(script, "the page submits itself");
      assert.ok(csp.includes(`script-src 'sha256-${createHash("sha256").update(script).digest("base64")}'`), "only that script may run");
      assert.match(csp, /frame-ancestors 'none'/);
      assert.equal(page.headers.get("x-frame-options"), "DENY");
      assert.equal(page.headers.get("cache-control"), "no-store");
      const [form] = browser.forms(page);
      assert.equal(form?.autoSubmit, true);
      assert.equal(form?.method, "POST");
      const posted = await browser.submitForm(page, toApp);
      assert.equal(posted.url.href, APP_REDIRECT);
      assert.equal(posted.submitted?.get("iss"), fixture.broker.url);
      // The app reads the POSTed body; openid-client takes it as a Request.
      const request = new Request(APP_REDIRECT, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: posted.submitted!.toString(),
      });
      const claims = await client.implicitAuthentication(config, request, nonce, { expectedState: state });
      assert.equal(claims.nonce, nonce);
    });

    it("id_token token: an access token limited to five minutes and the app's lifetime, at_hash binding the ID token to it, no refresh token", async () => {
      newUser();
      const nonce = client.randomNonce();
      const back = await new TestBrowser().navigate(
        authorizeUrl(spa, { response_type: "id_token token", scope: "openid proxy offline_access", nonce, state: "st-1" }),
        toApp,
      );
      const response = fragmentOf(back.url);
      assert.equal(response.get("state"), "st-1");
      assert.equal(response.get("iss"), fixture.broker.url);
      assert.equal(response.get("token_type"), "Bearer");
      assert.equal(response.get("expires_in"), "120", "the app's lifetime, being below five minutes");
      assert.equal(response.get("refresh_token"), null);
      const accessToken = response.get("access_token")!;
      const claims = await verifyAccessToken(fixture.broker.services, accessToken, "broker");
      assert.equal(claims.exp - claims.iat, 120);
      assert.equal(claims.client_id, spa.id);
      assert.deepEqual(claims.scope.split(" ").sort(), ["openid", "proxy"], "offline_access is never granted through the front channel");
      const id = await verifyIdToken(response.get("id_token")!, spa.id);
      assert.equal(id.nonce, nonce);
      assert.equal(id.sub, claims.acct);
      assert.equal(id.at_hash, accessTokenHash(accessToken, "ES256"));
      assert.equal(id.c_hash, undefined);
      assert.deepEqual([id.email, id.name], [undefined, undefined], "openid alone: no email, no name");
    });

    it("token: a front-channel access token lives at most 300 s even when the app's tokens live longer", async () => {
      newUser();
      const back = await new TestBrowser().navigate(authorizeUrl(hybridApp, { response_type: "token", scope: "proxy", nonce: "n-1", state: "s" }), toApp);
      const response = fragmentOf(back.url);
      assert.equal(response.get("expires_in"), "300");
      const claims = decodeJwt(response.get("access_token")!);
      assert.equal(Number(claims.exp) - Number(claims.iat), 300);
      assert.match(String(claims.gid), /^gr_[A-Za-z0-9_-]{22}$/, "a grant of its own, with a grant id like every other");
      assert.equal(response.get("id_token"), null);
    });

    it("a front-channel access token is revoked with its account's grants", async () => {
      newUser();
      const back = await new TestBrowser().navigate(authorizeUrl(hybridApp, { response_type: "token", scope: "proxy", nonce: "n-2", state: "s" }), toApp);
      const accessToken = fragmentOf(back.url).get("access_token")!;
      const claims = await verifyAccessToken(fixture.broker.services, accessToken, "broker");
      assert.ok(claims.gid, "issued under a grant of its own");
      await revokeAccountGrants(fixture.broker.services, claims.acct!, "test");
      await assert.rejects(async () => verifyAccessToken(fixture.broker.services, accessToken, "broker"), InvalidToken);
    });

    it("id_token token by form_post posts the tokens, never putting them in a URL", async () => {
      newUser();
      const browser = new TestBrowser();
      const page = await browser.navigate(
        authorizeUrl(hybridApp, { response_type: "token id_token", response_mode: "form_post", scope: "openid", nonce: "n-3", state: "st-fp" }),
        toApp,
      );
      assert.ok(
        page.chain.every((u) => !u.href.includes("access_token")),
        "no URL on the way carries a token",
      );
      const posted = await browser.submitForm(page, toApp);
      assert.equal(posted.submitted?.get("state"), "st-fp");
      assert.ok(posted.submitted?.get("access_token"));
      assert.equal((await verifyIdToken(posted.submitted!.get("id_token")!, hybridApp.id)).nonce, "n-3");
    });
  });

  describe("hybrid (code id_token, code token, code id_token token)", () => {
    it("code id_token with openid-client's hybrid flow: c_hash checked, then the code exchanged for tokens with a refresh token", async () => {
      fixture.oidc.setUser({ sub: `h-${userId}`, email: "hybrid@example.test", name: "Hybrid" });
      const config = await configFor(hybridApp, client.useCodeIdTokenResponseType);
      const nonce = client.randomNonce();
      const state = client.randomState();
      const verifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: APP_REDIRECT,
        scope: "openid email offline_access proxy",
        nonce,
        state,
        connector: "acme-oidc",
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
      });
      assert.equal(url.searchParams.get("response_type"), "code id_token");
      const back = await new TestBrowser().navigate(url, toApp);
      const front = fragmentOf(back.url);
      const frontId = await verifyIdToken(front.get("id_token")!, hybridApp.id);
      assert.equal(frontId.c_hash, accessTokenHash(front.get("code")!, "ES256"));
      assert.deepEqual(
        [frontId.email, frontId.email_verified, frontId.name],
        ["hybrid@example.test", true, undefined],
        "scope email, not profile; verified as the upstream said",
      );
      const tokens = await client.authorizationCodeGrant(config, back.url, { expectedNonce: nonce, expectedState: state, pkceCodeVerifier: verifier });
      assert.ok(tokens.refresh_token, "the back channel may issue a refresh token");
      assert.equal(tokens.claims()?.sub, frontId.sub);
      assert.equal(tokens.claims()?.email, "hybrid@example.test");
      assert.equal(tokens.claims()?.email_verified, true);
      assert.equal(tokens.claims()?.name, undefined);
    });

    it("code id_token token: the ID token carries both at_hash and c_hash; the code still works once", async () => {
      newUser();
      const nonce = "n-hyb";
      const { verifier, params } = await pkce();
      const back = await new TestBrowser().navigate(
        authorizeUrl(hybridApp, { response_type: "code id_token token", scope: "openid proxy offline_access", nonce, state: "s", ...params }),
        toApp,
      );
      const response = fragmentOf(back.url);
      const code = response.get("code")!;
      const accessToken = response.get("access_token")!;
      const id = await verifyIdToken(response.get("id_token")!, hybridApp.id);
      assert.equal(id.at_hash, accessTokenHash(accessToken, "ES256"));
      assert.equal(id.c_hash, accessTokenHash(code, "ES256"));
      assert.equal(response.get("refresh_token"), null);
      assert.equal(response.get("expires_in"), "300");
      const callback = new URL(APP_REDIRECT);
      callback.searchParams.set("code", code);
      callback.searchParams.set("iss", fixture.broker.url);
      const codeConfig = await configFor(hybridApp);
      const tokens = await client.authorizationCodeGrant(codeConfig, callback, { expectedNonce: nonce, idTokenExpected: true, pkceCodeVerifier: verifier });
      assert.equal(tokens.expires_in, 1800, "the code's tokens have the app's own lifetime");
      assert.equal(decodeJwt(tokens.id_token!).nonce, nonce);
      await assert.rejects(
        client.authorizationCodeGrant(codeConfig, callback, { expectedNonce: nonce, pkceCodeVerifier: verifier }),
        (err: client.ResponseBodyError) => err.error === "invalid_grant",
      );
    });

    it("code token: a code and an access token, no ID token in the fragment", async () => {
      newUser();
      const back = await new TestBrowser().navigate(
        authorizeUrl(hybridApp, { response_type: "token code", scope: "proxy", nonce: "n", state: "s", ...(await pkce()).params }),
        toApp,
      );
      const response = fragmentOf(back.url);
      assert.ok(response.get("code"));
      assert.ok(response.get("access_token"));
      assert.equal(response.get("id_token"), null);
    });

    it("response_mode=fragment also works for a plain code", async () => {
      newUser();
      const verifier = client.randomPKCECodeVerifier();
      const back = await new TestBrowser().navigate(
        authorizeUrl(codeOnlyApp, {
          response_type: "code",
          response_mode: "fragment",
          scope: "proxy",
          state: "s",
          code_challenge: await client.calculatePKCECodeChallenge(verifier),
          code_challenge_method: "S256",
        }),
        toApp,
      );
      assert.equal(back.url.searchParams.get("code"), null);
      assert.ok(fragmentOf(back.url).get("code"));
    });
  });

  describe("rejections", () => {
    async function refused(app: FixtureApp, params: Record<string, string>) {
      const back = await new TestBrowser().navigate(authorizeUrl(app, { state: "st-r", ...params }), toApp);
      return back;
    }

    it("a response type the app is not registered for is refused with unauthorized_client, in the fragment", async () => {
      for (const response_type of ["token", "id_token", "code id_token", "code token", "id_token token"]) {
        const back = await refused(codeOnlyApp, { response_type, scope: "openid", nonce: "n" });
        const error = fragmentOf(back.url);
        assert.equal(error.get("error"), "unauthorized_client", response_type);
        assert.equal(error.get("state"), "st-r");
        assert.equal(error.get("iss"), fixture.broker.url);
        assert.equal(back.url.searchParams.get("error"), null, "an implicit request's error goes in the fragment");
      }
      const spaHybrid = await refused(spa, { response_type: "code id_token", scope: "openid", nonce: "n" });
      assert.equal(fragmentOf(spaHybrid.url).get("error"), "unauthorized_client");
    });

    it("an unknown response type is refused with unsupported_response_type", async () => {
      const back = await refused(hybridApp, { response_type: "code none" });
      assert.equal(back.url.searchParams.get("error"), "unsupported_response_type");
    });

    it("an implicit or hybrid request without a nonce is refused with invalid_request", async () => {
      const upstreamVisits = fixture.github.stats.authorize;
      for (const response_type of ["token", "id_token", "id_token token", "code id_token", "code token", "code id_token token"]) {
        const back = await refused(hybridApp, { response_type, scope: "openid proxy" });
        assert.equal(fragmentOf(back.url).get("error"), "invalid_request", response_type);
        assert.match(fragmentOf(back.url).get("error_description") ?? "", /nonce/);
      }
      assert.equal(fixture.github.stats.authorize, upstreamVisits, "the end user is never sent to the upstream");
    });

    it("a hybrid request returns a code, so it needs PKCE like the code flow; implicit types, with no code, do not", async () => {
      for (const response_type of ["code id_token", "code token", "code id_token token"]) {
        const back = await refused(hybridApp, { response_type, scope: "openid proxy", nonce: "n" });
        assert.equal(fragmentOf(back.url).get("error"), "invalid_request", response_type);
        assert.match(fragmentOf(back.url).get("error_description") ?? "", /PKCE is required/, response_type);
      }
      newUser();
      const implicit = await refused(hybridApp, { response_type: "id_token token", scope: "openid proxy", nonce: "n" });
      assert.ok(fragmentOf(implicit.url).get("access_token"), "no code, no PKCE");
    });

    it("response_mode=query with a response type that returns tokens is refused, the error sent in the fragment", async () => {
      const back = await refused(hybridApp, { response_type: "code id_token", response_mode: "query", scope: "openid", nonce: "n" });
      assert.equal(back.url.searchParams.get("error"), null);
      assert.equal(fragmentOf(back.url).get("error"), "invalid_request");
      assert.match(fragmentOf(back.url).get("error_description") ?? "", /query/);
    });

    it("an unknown response_mode is refused", async () => {
      const back = await refused(codeOnlyApp, { response_type: "code", response_mode: "jwt", scope: "proxy" });
      assert.equal(back.url.searchParams.get("error"), "invalid_request");
    });

    it("an ID token response type without the openid scope is refused", async () => {
      const back = await refused(hybridApp, { response_type: "id_token", scope: "proxy", nonce: "n" });
      assert.equal(fragmentOf(back.url).get("error"), "invalid_request");
      assert.match(fragmentOf(back.url).get("error_description") ?? "", /openid/);
    });

    it("an error of a form_post request is posted back, not redirected", async () => {
      const browser = new TestBrowser();
      const page = await browser.navigate(
        authorizeUrl(hybridApp, { response_type: "id_token", response_mode: "form_post", scope: "openid", state: "st-fp" }),
        toApp,
      );
      assert.equal(page.status, 200);
      const posted = await browser.submitForm(page, toApp);
      assert.equal(posted.submitted?.get("error"), "invalid_request");
      assert.equal(posted.submitted?.get("state"), "st-fp");
      assert.equal(posted.submitted?.get("iss"), fixture.broker.url);
    });

    it("a form_post response without a state posts no state field at all", async () => {
      const browser = new TestBrowser();
      const url = authorizeUrl(hybridApp, { response_type: "id_token", response_mode: "form_post", scope: "openid" });
      url.searchParams.delete("state");
      const page = await browser.navigate(url, toApp);
      assert.equal(page.status, 200);
      assert.doesNotMatch(page.body, /name="state"/);
      const posted = await browser.submitForm(page, toApp);
      assert.equal(posted.submitted?.get("error"), "invalid_request");
      assert.equal(posted.submitted?.has("state"), false);
      assert.equal(posted.submitted?.get("iss"), fixture.broker.url);
    });

    it("prompt=none is answered login_required, never by signing the end user in silently", async () => {
      const upstreamVisits = fixture.github.stats.authorize;
      const back = await refused(hybridApp, { response_type: "id_token", scope: "openid", nonce: "n", prompt: "none" });
      assert.equal(fragmentOf(back.url).get("error"), "login_required");
      assert.equal(fixture.github.stats.authorize, upstreamVisits);
    });

    it("an upstream denial reaches an implicit app as access_denied in the fragment", async () => {
      fixture.github.denyNext();
      const back = await refused(hybridApp, { response_type: "id_token token", scope: "openid", nonce: "n" });
      assert.equal(fragmentOf(back.url).get("error"), "access_denied");
      assert.equal(fragmentOf(back.url).get("state"), "st-r");
    });
  });

  describe("the authorization endpoint and CORS", () => {
    it("answers no cross-origin request: no Access-Control-Allow-Origin, not even to a preflight", async () => {
      const url = authorizeUrl(codeOnlyApp, { response_type: "code", scope: "proxy", state: "s" });
      const get = await fetch(url, { headers: { origin: "https://evil.example" }, redirect: "manual" });
      assert.equal(get.headers.get("access-control-allow-origin"), null);
      const preflight = await fetch(url, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
      assert.equal(preflight.headers.get("access-control-allow-origin"), null);
    });

    it("a GET authorization request is answered with 302 (a redirect the browser may follow with GET as well)", async () => {
      const url = authorizeUrl(codeOnlyApp, { response_type: "token", nonce: "n", state: "s" });
      const res = await fetch(url, { redirect: "manual" });
      assert.equal(res.status, 302);
      assert.equal(fragmentOf(new URL(res.headers.get("location")!)).get("error"), "unauthorized_client");
    });

    it("a POSTed authorization request is answered with 303", async () => {
      const body = new URLSearchParams({ client_id: codeOnlyApp.id, redirect_uri: APP_REDIRECT, response_type: "token", nonce: "n", state: "s" });
      const res = await fetch(new URL("/oauth/authorize", fixture.broker.url), { method: "POST", body, redirect: "manual" });
      assert.equal(res.status, 303);
      assert.equal(fragmentOf(new URL(res.headers.get("location")!)).get("error"), "unauthorized_client");
    });
  });
});
