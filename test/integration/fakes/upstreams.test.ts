/**
 * The upstream peers and the test browser that the integration suite relies
 * on, checked with a real relying party (openid-client v6): if these pass,
 * a broker test that fails is failing because of the broker.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as client from "openid-client";
import { startOidcUpstream, type OidcUpstream } from "../../support/oidc-upstream.js";
import { startOAuth2Upstream, type OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { TestBrowser } from "../../support/browser.js";
import { freePort } from "../../support/ports.js";

/** The relying party's redirect URI: nothing listens there, the browser stops at it. */
const REDIRECT_URI = "http://127.0.0.1:9/callback";
const CLIENT_ID = "rp";
const CLIENT_SECRET = "rp-secret-0123456789abcdef";
const atRedirectUri = (url: URL) => url.href.startsWith(REDIRECT_URI);

interface PendingAuthorization {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

async function buildAuthorization(config: client.Configuration, scope: string, extra: Record<string, string> = {}): Promise<PendingAuthorization> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    ...(scope.includes("openid") ? { nonce } : {}),
    ...extra,
  });
  return { url, verifier, state, nonce };
}

/** What openid-client throws for an OAuth error response, as `{ status, error }`. */
async function oauthFailure(promise: Promise<unknown>): Promise<{ status: number | undefined; error: string | undefined }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof client.ResponseBodyError) return { status: err.status, error: err.error };
    if (err instanceof client.WWWAuthenticateChallengeError) {
      const body = (await err.response.json().catch(() => ({}))) as { error?: string };
      return { status: err.status, error: body.error };
    }
    if (err instanceof client.ClientError && err.cause instanceof Response) return { status: err.cause.status, error: undefined };
    throw err;
  }
  assert.fail("the request was expected to fail");
}

describe("OIDC upstream (oidc-provider)", () => {
  let upstream: OidcUpstream;
  let config: client.Configuration;

  before(async () => {
    upstream = await startOidcUpstream({
      clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [REDIRECT_URI] }],
      accessTokenTtl: 120,
    });
    config = await client.discovery(new URL(upstream.issuer), CLIENT_ID, CLIENT_SECRET, undefined, {
      execute: [client.allowInsecureRequests],
    });
  });
  after(() => upstream.close());

  async function signIn(browser = new TestBrowser(), scope = "openid email profile offline_access") {
    const pending = await buildAuthorization(config, scope);
    const back = await browser.navigate(pending.url, { stopAt: atRedirectUri });
    assert.equal(back.stopped, true, `the flow did not reach the redirect URI: ${back.status} ${back.url.href} ${back.body.slice(0, 200)}`);
    return { back, pending };
  }

  async function codeFlow(browser = new TestBrowser(), scope?: string) {
    const { back, pending } = await signIn(browser, scope);
    return client.authorizationCodeGrant(config, back.url, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
    });
  }

  it("discovery advertises S256 PKCE, refresh tokens, revocation and iss in authorization responses", () => {
    const metadata = config.serverMetadata();
    assert.equal(metadata.issuer, upstream.issuer);
    assert.deepEqual(metadata.code_challenge_methods_supported, ["S256"]);
    assert.ok(metadata.grant_types_supported?.includes("refresh_token"));
    assert.ok(metadata.revocation_endpoint);
    assert.equal(metadata.authorization_response_iss_parameter_supported, true);
  });

  it("the code flow with PKCE completes through the browser and the ID token carries sub, email and name", async () => {
    const before = upstream.stats.tokenByGrant["authorization_code"] ?? 0;
    const { back, pending } = await signIn();
    // RFC 9207: the authorization response names its issuer.
    assert.equal(back.url.searchParams.get("iss"), upstream.issuer);
    assert.equal(back.url.searchParams.get("state"), pending.state);

    const tokens = await client.authorizationCodeGrant(config, back.url, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
    });
    const claims = tokens.claims();
    assert.equal(claims?.sub, "alice");
    assert.equal(claims?.["email"], "alice@example.test");
    assert.equal(claims?.["name"], "Alice");
    assert.equal(tokens.expires_in, 120, "the access token lifetime follows accessTokenTtl");
    assert.ok(tokens.refresh_token, "a client with the refresh_token grant gets a refresh token");
    assert.equal(upstream.stats.tokenByGrant["authorization_code"], before + 1);
    assert.ok(upstream.issuedAccessTokens().includes(tokens.access_token));
    assert.deepEqual(upstream.lastAuthorizeScopes(), ["openid", "email", "profile", "offline_access"]);
    assert.equal(upstream.lastAuthorizeParams()?.get("code_challenge_method"), "S256");
  });

  it("an authorization request without a code_challenge is refused", async () => {
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: "openid", state: "s1" });
    const back = await new TestBrowser().navigate(url, { stopAt: atRedirectUri });
    assert.equal(back.url.searchParams.get("error"), "invalid_request");
    assert.equal(back.url.searchParams.get("state"), "s1");
  });

  it("a wrong code_verifier is refused with invalid_grant", async () => {
    const { back, pending } = await signIn();
    const failure = await oauthFailure(
      client.authorizationCodeGrant(config, back.url, {
        pkceCodeVerifier: client.randomPKCECodeVerifier(),
        expectedState: pending.state,
        expectedNonce: pending.nonce,
      }),
    );
    assert.equal(failure.error, "invalid_grant");
  });

  it("userinfo answers email and name for the access token", async () => {
    const tokens = await codeFlow();
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, "alice");
    assert.equal(userinfo.email, "alice@example.test");
    assert.equal(userinfo.name, "Alice");
  });

  it("refresh tokens rotate: the old one is refused after use, and its reuse revokes the family", async () => {
    const tokens = await codeFlow();
    const first = tokens.refresh_token as string;
    const refreshed = await client.refreshTokenGrant(config, first);
    assert.ok(refreshed.refresh_token);
    assert.notEqual(refreshed.refresh_token, first);
    assert.equal(refreshed.claims()?.sub, "alice");

    const reuse = await oauthFailure(client.refreshTokenGrant(config, first));
    assert.equal(reuse.error, "invalid_grant");
    const afterReuse = await oauthFailure(client.refreshTokenGrant(config, refreshed.refresh_token as string));
    assert.equal(afterReuse.error, "invalid_grant", "reuse of a rotated refresh token revokes the grant");
  });

  it("a revoked refresh token is refused", async () => {
    const tokens = await codeFlow();
    await client.tokenRevocation(config, tokens.refresh_token as string);
    const failure = await oauthFailure(client.refreshTokenGrant(config, tokens.refresh_token as string));
    assert.equal(failure.error, "invalid_grant");
  });

  it("denyNext ends the next flow with access_denied and its state at the redirect URI; the one after succeeds", async () => {
    upstream.denyNext();
    const { back, pending } = await signIn();
    assert.equal(back.url.searchParams.get("error"), "access_denied");
    assert.equal(back.url.searchParams.get("state"), pending.state);
    assert.equal(back.url.searchParams.get("code"), null);

    const tokens = await codeFlow();
    assert.equal(tokens.claims()?.sub, "alice");
  });

  it("setUser signs in the new user, even in a browser that has a session for the old one", async () => {
    const browser = new TestBrowser();
    assert.equal((await codeFlow(browser)).claims()?.sub, "alice");
    upstream.setUser({ sub: "bob", email: "bob@example.test", name: "Bob" });
    try {
      const tokens = await codeFlow(browser);
      assert.equal(tokens.claims()?.sub, "bob");
      assert.equal(tokens.claims()?.["email"], "bob@example.test");
    } finally {
      upstream.setUser({ sub: "alice", email: "alice@example.test", name: "Alice" });
    }
  });

  it("failNextToken answers the next token request with the injected failure, once", async () => {
    const tokens = await codeFlow();
    upstream.failNextToken(503, { error: "temporarily_unavailable" });
    const failure = await oauthFailure(client.refreshTokenGrant(config, tokens.refresh_token as string));
    assert.equal(failure.status, 503);
    // The failed attempt did not consume the refresh token.
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string);
    assert.ok(refreshed.access_token);
  });

  it("the echo API answers requests made with a live access token, and 401 once tokens expire", async () => {
    const tokens = await codeFlow();
    const response = await fetch(`${upstream.apiUrl}/files?x=1`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(response.status, 200);
    const echoed = (await response.json()) as { path: string; sub: string; query: Record<string, string> };
    assert.equal(echoed.sub, "alice");
    assert.equal(echoed.path, "/api/files");
    assert.equal(echoed.query["x"], "1");

    upstream.expireAccessTokens();
    assert.equal((await fetch(`${upstream.apiUrl}/files`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status, 401);
    const userinfo = await oauthFailure(client.fetchUserInfo(config, tokens.access_token, "alice"));
    assert.equal(userinfo.status, 401);
    // The refresh token still works: only access tokens expired.
    assert.ok((await client.refreshTokenGrant(config, tokens.refresh_token as string)).access_token);
  });

  it("revokeAll makes every refresh token fail with invalid_grant, and the next sign-in still works", async () => {
    const tokens = await codeFlow();
    upstream.revokeAll();
    assert.equal((await oauthFailure(client.refreshTokenGrant(config, tokens.refresh_token as string))).error, "invalid_grant");
    assert.equal((await codeFlow()).claims()?.sub, "alice");
  });
});

describe("OIDC upstream without refresh token rotation", () => {
  let upstream: OidcUpstream;
  let config: client.Configuration;

  before(async () => {
    upstream = await startOidcUpstream({
      clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [REDIRECT_URI] }],
      rotateRefreshTokens: false,
    });
    config = await client.discovery(new URL(upstream.issuer), CLIENT_ID, CLIENT_SECRET, undefined, { execute: [client.allowInsecureRequests] });
  });
  after(() => upstream.close());

  it("keeps the same refresh token across refreshes", async () => {
    const pending = await buildAuthorization(config, "openid");
    const back = await new TestBrowser().navigate(pending.url, { stopAt: atRedirectUri });
    const tokens = await client.authorizationCodeGrant(config, back.url, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
    });
    const first = await client.refreshTokenGrant(config, tokens.refresh_token as string);
    const second = await client.refreshTokenGrant(config, tokens.refresh_token as string);
    assert.equal(first.refresh_token ?? tokens.refresh_token, tokens.refresh_token);
    assert.ok(second.access_token);
    assert.equal(upstream.stats.tokenByGrant["refresh_token"], 2);
  });
});

describe("OIDC upstream in interactive mode (login form and consent page)", () => {
  let upstream: OidcUpstream;
  let config: client.Configuration;

  before(async () => {
    const port = await freePort();
    upstream = await startOidcUpstream({
      port,
      clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "client_secret_post" }],
      interactive: true,
      users: { carol: { sub: "carol-1", email: "carol@example.test", name: "Carol" } },
    });
    assert.equal(upstream.issuer, `http://127.0.0.1:${port}`, "options.port is honoured");
    config = await client.discovery(new URL(upstream.issuer), CLIENT_ID, CLIENT_SECRET, client.ClientSecretPost(CLIENT_SECRET), {
      execute: [client.allowInsecureRequests],
    });
  });
  after(() => upstream.close());

  it("the user signs in on the form and allows on the consent page", async () => {
    const browser = new TestBrowser();
    const pending = await buildAuthorization(config, "openid email profile");
    const login = await browser.navigate(pending.url, { stopAt: atRedirectUri });
    assert.equal(login.status, 200);
    assert.match(login.body, /Sign in/);

    const unknown = await browser.submitForm(login, { fields: { username: "mallory" } });
    assert.match(unknown.body, /Unknown user/);

    const consent = await browser.submitForm(unknown, { fields: { username: "carol" }, button: "Sign in" });
    assert.match(consent.body, /Allow/);
    const back = await browser.submitForm(consent, { button: "Allow", stopAt: atRedirectUri });
    assert.equal(back.stopped, true);

    const tokens = await client.authorizationCodeGrant(config, back.url, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
    });
    assert.equal(tokens.claims()?.sub, "carol-1");
    assert.equal(tokens.claims()?.["name"], "Carol");
  });

  it("Deny on the consent page returns access_denied", async () => {
    const browser = new TestBrowser();
    const pending = await buildAuthorization(config, "openid email");
    const login = await browser.navigate(pending.url);
    const consent = await browser.submitForm(login, { fields: { username: "carol" } });
    const back = await browser.submitForm(consent, { formIndex: 1, stopAt: atRedirectUri });
    assert.equal(back.url.searchParams.get("error"), "access_denied");
  });
});

describe("GitHub-like OAuth 2.0 upstream", () => {
  let upstream: OAuth2Upstream;
  let config: client.Configuration;

  before(async () => {
    upstream = await startOAuth2Upstream({
      clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [REDIRECT_URI] }],
      accessTokenTtl: 600,
    });
    config = new client.Configuration(
      { issuer: upstream.url, authorization_endpoint: upstream.authorizationUrl, token_endpoint: upstream.tokenUrl },
      CLIENT_ID,
      CLIENT_SECRET,
      client.ClientSecretBasic(CLIENT_SECRET),
    );
    client.allowInsecureRequests(config);
  });
  after(() => upstream.close());

  async function authorize(browser = new TestBrowser(), extra: Record<string, string> = {}) {
    const pending = await buildAuthorization(config, "read:user user:email", extra);
    const back = await browser.navigate(pending.url, { stopAt: atRedirectUri });
    return { back, pending };
  }

  async function codeFlow() {
    const { back, pending } = await authorize();
    return client.authorizationCodeGrant(config, back.url, { pkceCodeVerifier: pending.verifier, expectedState: pending.state });
  }

  async function getUser(accessToken: string) {
    let response: Response;
    try {
      response = await client.fetchProtectedResource(config, accessToken, new URL(upstream.userUrl), "GET");
    } catch (err) {
      // openid-client throws for a 401 that carries a WWW-Authenticate challenge.
      if (!(err instanceof client.WWWAuthenticateChallengeError)) throw err;
      response = err.response;
    }
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it("the code flow with PKCE yields tokens, and /user answers who signed in", async () => {
    const tokens = await codeFlow();
    assert.match(tokens.access_token, /^gho_/);
    assert.equal(tokens.expires_in, 600);
    assert.match(tokens.refresh_token ?? "", /^ghr_/);
    assert.equal(tokens.scope, "read:user user:email");
    assert.deepEqual(upstream.lastAuthorizeScopes(), ["read:user", "user:email"]);
    assert.equal(upstream.lastAuthorizeParams()?.get("code_challenge_method"), "S256");
    const user = await getUser(tokens.access_token);
    assert.equal(user.status, 200);
    assert.deepEqual(user.body, { id: 4242, login: "octocat", email: "octocat@example.test", name: "The Octocat" });
    assert.ok(upstream.issuedAccessTokens().includes(tokens.access_token));
  });

  it("the token endpoint answers form-encoded unless asked for JSON, and takes client_secret_post", async () => {
    const { back, pending } = await authorize();
    const response = await fetch(upstream.tokenUrl, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: back.url.searchParams.get("code") as string,
        redirect_uri: REDIRECT_URI,
        code_verifier: pending.verifier,
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
      }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /application\/x-www-form-urlencoded/);
    const form = new URLSearchParams(await response.text());
    assert.match(form.get("access_token") ?? "", /^gho_/);
    assert.equal(form.get("token_type"), "bearer");
  });

  it("a code is single-use: its second redemption fails and revokes the tokens of the first", async () => {
    const { back, pending } = await authorize();
    const tokens = await client.authorizationCodeGrant(config, back.url, { pkceCodeVerifier: pending.verifier, expectedState: pending.state });
    const replay = await oauthFailure(client.authorizationCodeGrant(config, back.url, { pkceCodeVerifier: pending.verifier, expectedState: pending.state }));
    assert.equal(replay.error, "invalid_grant");
    assert.equal((await getUser(tokens.access_token)).status, 401);
  });

  it("a wrong code_verifier is refused with invalid_grant", async () => {
    const { back, pending } = await authorize();
    const failure = await oauthFailure(
      client.authorizationCodeGrant(config, back.url, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: pending.state }),
    );
    assert.equal(failure.error, "invalid_grant");
  });

  it("a wrong client secret is refused with 401 invalid_client", async () => {
    const { back, pending } = await authorize();
    const impostor = new client.Configuration(config.serverMetadata(), CLIENT_ID, "not-the-secret", client.ClientSecretBasic("not-the-secret"));
    client.allowInsecureRequests(impostor);
    const failure = await oauthFailure(client.authorizationCodeGrant(impostor, back.url, { pkceCodeVerifier: pending.verifier, expectedState: pending.state }));
    assert.equal(failure.error, "invalid_client");
    assert.equal(failure.status, 401);
  });

  it("an authorization request without an S256 code_challenge is refused at the redirect URI", async () => {
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, state: "s2" });
    const back = await new TestBrowser().navigate(url, { stopAt: atRedirectUri });
    assert.equal(back.url.searchParams.get("error"), "invalid_request");
    assert.equal(back.url.searchParams.get("state"), "s2");
  });

  it("an unregistered redirect URI gets an error page, never a redirect", async () => {
    const { back } = await authorize(new TestBrowser(), { redirect_uri: "http://127.0.0.1:9/elsewhere" });
    assert.equal(back.stopped, false);
    assert.equal(back.status, 400);
    assert.equal(upstream.stats.authorize > 0, true);
  });

  it("refresh tokens rotate and each is single-use", async () => {
    const tokens = await codeFlow();
    const before = upstream.stats.tokenByGrant["refresh_token"] ?? 0;
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
    assert.notEqual(refreshed.access_token, tokens.access_token);
    assert.equal((await getUser(refreshed.access_token)).status, 200);

    const reuse = await oauthFailure(client.refreshTokenGrant(config, tokens.refresh_token as string));
    assert.equal(reuse.error, "invalid_grant");
    assert.equal(upstream.stats.tokenByGrant["refresh_token"], before + 2);
  });

  it("denyNext redirects with access_denied and the state", async () => {
    upstream.denyNext();
    const { back, pending } = await authorize();
    assert.equal(back.url.searchParams.get("error"), "access_denied");
    assert.equal(back.url.searchParams.get("state"), pending.state);
    assert.equal(back.url.searchParams.get("code"), null);
  });

  it("/user answers 401 JSON for an unknown or expired token", async () => {
    assert.equal((await getUser("gho_unknown")).status, 401);
    const tokens = await codeFlow();
    upstream.expireAccessTokens();
    const expired = await getUser(tokens.access_token);
    assert.equal(expired.status, 401);
    assert.equal(expired.body["message"], "Bad credentials");
  });

  it("setUser changes who the next authorization signs in", async () => {
    upstream.setUser({ id: 7, login: "hubot", email: "hubot@example.test", name: "Hubot" });
    try {
      const tokens = await codeFlow();
      assert.equal((await getUser(tokens.access_token)).body["login"], "hubot");
    } finally {
      upstream.setUser({ id: 4242, login: "octocat", email: "octocat@example.test", name: "The Octocat" });
    }
  });

  it("failNextToken and failNextUser inject failures once each", async () => {
    const tokens = await codeFlow();
    upstream.failNextToken(500);
    assert.equal((await oauthFailure(client.refreshTokenGrant(config, tokens.refresh_token as string))).status, 500);
    upstream.failNextToken(400, { error: "invalid_grant", error_description: "revoked upstream" });
    assert.equal((await oauthFailure(client.refreshTokenGrant(config, tokens.refresh_token as string))).error, "invalid_grant");
    // Injected failures did not consume the refresh token.
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string);

    upstream.failNextUser(503);
    assert.equal((await getUser(refreshed.access_token)).status, 503);
    assert.equal((await getUser(refreshed.access_token)).status, 200);
  });

  it("revokeAll makes every refresh token fail with invalid_grant", async () => {
    const tokens = await codeFlow();
    upstream.revokeAll();
    assert.equal((await oauthFailure(client.refreshTokenGrant(config, tokens.refresh_token as string))).error, "invalid_grant");
    assert.equal((await getUser(tokens.access_token)).status, 401);
  });

  it("the echo API shows what arrived and requires a valid bearer token", async () => {
    const tokens = await codeFlow();
    const response = await fetch(`${upstream.apiUrl}/repos?page=2`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.access_token}`, "x-test": "1" },
      body: "hello",
    });
    const echoed = (await response.json()) as { method: string; path: string; query: Record<string, string>; headers: Record<string, string>; body: string };
    assert.equal(echoed.method, "POST");
    assert.equal(echoed.path, "/api/repos");
    assert.equal(echoed.query["page"], "2");
    assert.equal(echoed.headers["x-test"], "1");
    assert.equal(echoed.body, "hello");
    assert.equal((await fetch(`${upstream.apiUrl}/repos`)).status, 401);
  });
});

describe("TestBrowser", () => {
  let server: Server;
  let base: string;
  const received: { method: string; path: string; body: string; cookie: string | undefined }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const url = new URL(req.url ?? "/", "http://x");
        received.push({ method: req.method ?? "", path: url.pathname, body: Buffer.concat(chunks).toString(), cookie: req.headers.cookie });
        switch (url.pathname) {
          case "/set":
            res.setHeader("set-cookie", ["a=1; Path=/", "scoped=2; Path=/deep", "gone=3; Max-Age=0"]);
            res.end("ok");
            return;
          case "/form":
            res.setHeader("content-type", "text/html");
            res.end(`<html><body onload="document.forms[0].submit()"><form method="post" action="/post?x=1">
              <input type="hidden" name="code" value="c1"><input name="typed" value="default">
              <select name="pick"><option value="p1">1</option><option value="p2" selected>2</option></select>
              <input type="checkbox" name="unchecked" value="no"><input type="checkbox" name="checked" value="yes" checked>
              <button name="action" value="go">Go</button></form><a href="/next">next</a></body></html>`);
            return;
          case "/post":
          case "/post307":
            res.writeHead(url.pathname === "/post" ? 303 : 307, { location: url.pathname === "/post" ? "/landing" : "/landing307" });
            res.end();
            return;
          default:
            res.end(`landed ${req.method}`);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("keeps cookies per origin and path, and drops expired ones", async () => {
    const browser = new TestBrowser();
    await browser.navigate(`${base}/set`);
    assert.deepEqual(browser.cookies(`${base}/`), { a: "1" });
    assert.deepEqual(browser.cookies(`${base}/deep/er`), { scoped: "2", a: "1" });
    assert.deepEqual(browser.cookies(`${base}/deeper`), { a: "1" }, "Path=/deep does not match /deeper");
    const otherPort = `http://127.0.0.1:${await freePort()}/`;
    assert.deepEqual(browser.cookies(otherPort), {}, "another port is another origin");
    await browser.navigate(`${base}/deep/x`);
    assert.equal(received.at(-1)?.cookie, "scoped=2; a=1");
  });

  it("submits forms with hidden inputs, selected options, checked boxes and the button, then GETs after 303", async () => {
    const browser = new TestBrowser();
    const page = await browser.navigate(`${base}/form`);
    assert.equal(browser.forms(page)[0]?.autoSubmit, true);
    assert.deepEqual(browser.links(page), [`${base}/next`]);
    const landed = await browser.submitForm(page, { fields: { typed: "mine" } });
    const post = received.find((r) => r.path === "/post");
    assert.deepEqual(Object.fromEntries(new URLSearchParams(post?.body)), { code: "c1", typed: "mine", pick: "p2", checked: "yes", action: "go" });
    assert.equal(landed.body, "landed GET");
    assert.deepEqual(
      landed.chain.map((u) => u.pathname),
      ["/post", "/landing"],
    );
  });

  it("keeps the method and body across a 307 and stops at stopAt without fetching", async () => {
    const browser = new TestBrowser();
    const page = await browser.navigate(`${base}/form`);
    const form = browser.forms(page)[0];
    assert.ok(form);
    const landed = await browser.submitForm({ ...page, body: page.body.replace('action="/post?x=1"', 'action="/post307"') });
    assert.equal(landed.body, "landed POST");
    assert.equal(received.at(-1)?.body.includes("code=c1"), true);

    const formPost = await browser.submitForm(page, { stopAt: (u) => u.pathname === "/post" });
    assert.equal(formPost.stopped, true);
    assert.equal(formPost.submitted?.get("code"), "c1", "a form_post response is read without posting it");

    const count = received.length;
    const stopped = await browser.navigate(`${base}/post`, { stopAt: (u) => u.pathname === "/landing" });
    assert.equal(stopped.stopped, true);
    assert.equal(stopped.url.href, `${base}/landing`);
    assert.equal(received.length, count + 1, "the stopAt target was not fetched");
  });
});
