/**
 * The unified flow end to end (issue 3): an app (openid-client) does one
 * authorization-code flow with the broker; the end user (TestBrowser)
 * connects an account at a real upstream — oidc-provider for the `oidc`
 * kind, a GitHub-like server for the `oauth2` kind — and the app gets broker
 * tokens bound to that account.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { reserveBrokerUrl, startTestBroker, type TestBroker } from "../../support/broker.js";
import { startOidcUpstream, type OidcUpstream } from "../../support/oidc-upstream.js";
import { startOAuth2Upstream, type OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { TestBrowser } from "../../support/browser.js";

const APP_REDIRECT = "http://127.0.0.1:9/callback";
const insecure = { execute: [client.allowInsecureRequests] };

interface App {
  id: string;
  secret: string | undefined;
  config: client.Configuration;
}

describe("the unified authorization-code flow", () => {
  let broker: TestBroker;
  let oidc: OidcUpstream;
  let github: OAuth2Upstream;
  let app: App;
  let publicApp: App;

  before(async () => {
    const reserved = await reserveBrokerUrl();
    oidc = await startOidcUpstream({
      clients: [{ client_id: "broker-at-oidc", client_secret: "oidc-secret-0123456789", redirect_uris: [reserved.callbackUrl("acme-oidc")] }],
    });
    github = await startOAuth2Upstream({
      clients: [{ client_id: "broker-at-gh", client_secret: "gh-secret-0123456789", redirect_uris: [reserved.callbackUrl("gh")] }],
    });
    broker = await startTestBroker({
      port: reserved.port,
      env: { UPSTREAM_OIDC_SECRET: "oidc-secret-0123456789" },
      connectors: {
        "acme-oidc.json": {
          id: "acme-oidc",
          name: "Acme OIDC",
          auth: { kind: "oidc", issuer: oidc.issuer, clientId: "broker-at-oidc", clientSecret: "${env:UPSTREAM_OIDC_SECRET}" },
          scopes: { profile: ["openid", "email", "profile"], offline: ["offline_access"] },
          defaultScopes: ["profile", "offline"],
          api: { baseUrl: `${oidc.issuer}/api`, credentials: "bearer" },
        },
        "gh.yaml": [
          "id: gh",
          "name: GitHub-like",
          "auth:",
          "  kind: oauth2",
          `  authorizationUrl: ${github.authorizationUrl}`,
          `  tokenUrl: ${github.tokenUrl}`,
          "  clientId: broker-at-gh",
          "  clientSecret: gh-secret-0123456789",
          "scopes:",
          "  repo.read: [repo]",
          "  user: [read:user, user:email]",
          "defaultScopes: [user]",
          "api:",
          `  baseUrl: ${github.url}`,
          "  credentials: bearer",
          "identity:",
          `  url: ${github.userUrl}`,
          "  subject: id",
          "  email: email",
          "  name: name",
          "",
        ].join("\n"),
      },
    });
    const created = await broker.services.clients.create({
      name: "Test App",
      redirectUris: [APP_REDIRECT],
      scopes: ["openid", "email", "profile", "offline_access", "proxy"],
    });
    app = {
      id: created.client.id,
      secret: created.secret,
      config: await client.discovery(new URL(broker.url), created.client.id, undefined, client.ClientSecretBasic(created.secret!), insecure),
    };
    const pub = await broker.services.clients.create({
      name: "SPA",
      redirectUris: [APP_REDIRECT],
      isPublic: true,
      scopes: ["openid", "proxy", "offline_access"],
    });
    publicApp = {
      id: pub.client.id,
      secret: undefined,
      config: await client.discovery(new URL(broker.url), pub.client.id, undefined, client.None(), insecure),
    };
  });

  after(async () => {
    await broker?.stop();
    await oidc?.close();
    await github?.close();
  });

  /** Runs the browser part of the flow and returns the URL the broker sent the browser back to. */
  async function authorize(target: App, params: Record<string, string>, browser = new TestBrowser()): Promise<URL> {
    const url = client.buildAuthorizationUrl(target.config, { redirect_uri: APP_REDIRECT, ...params });
    const page = await browser.navigate(url.href, { stopAt: (u) => u.href.startsWith(APP_REDIRECT) });
    return page.url;
  }

  async function pkce() {
    const verifier = client.randomPKCECodeVerifier();
    return { verifier, challenge: await client.calculatePKCECodeChallenge(verifier) };
  }

  async function connect(target: App, connector: string, scope = "openid email proxy offline_access") {
    const { verifier, challenge } = await pkce();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const back = await authorize(target, { scope, connector, state, nonce, code_challenge: challenge, code_challenge_method: "S256" });
    const openid = scope.split(" ").includes("openid");
    const tokens = await client.authorizationCodeGrant(target.config, back, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: openid ? nonce : undefined,
      idTokenExpected: openid,
    });
    return { tokens, back, verifier };
  }

  describe("with an OIDC upstream (oidc-provider)", () => {
    it("connects an account and issues account-bound broker tokens", async () => {
      oidc.setUser({ sub: "alice", email: "alice@example.test", name: "Alice" });
      const { tokens } = await connect(app, "acme-oidc");
      const header = decodeProtectedHeader(tokens.access_token);
      assert.equal(header.typ, "at+jwt");
      const claims = decodeJwt(tokens.access_token);
      assert.equal(claims.iss, broker.url);
      assert.equal(claims.client_id, app.id);
      assert.equal(claims.connector, "acme-oidc");
      assert.equal(claims.sub, claims.acct);
      assert.ok(tokens.refresh_token, "offline_access gives a refresh token");
      const idClaims = tokens.claims();
      assert.equal(idClaims?.sub, claims.sub);
      assert.equal(idClaims?.email, "alice@example.test");
      assert.equal(idClaims?.email_verified, true, "oidc-provider says it");
      assert.equal(idClaims?.name, undefined, "no profile scope, no name (OIDC Core §5.4)");
      const account = await broker.services.db.account.findUniqueOrThrow({ where: { id: String(claims.sub) } });
      assert.equal(account.upstreamSubject, "alice");
      assert.equal(account.connectorId, "acme-oidc");
      assert.equal(account.status, "active");
    });

    it("the same upstream user reconnecting to the same app updates the same account", async () => {
      oidc.setUser({ sub: "bob", email: "bob@example.test", name: "Bob" });
      const first = decodeJwt((await connect(app, "acme-oidc")).tokens.access_token).sub;
      oidc.setUser({ sub: "bob", email: "bob@new.example.test", name: "Bob B." });
      const second = decodeJwt((await connect(app, "acme-oidc")).tokens.access_token).sub;
      assert.equal(second, first);
      const accounts = await broker.services.db.account.findMany({ where: { upstreamSubject: "bob" } });
      assert.equal(accounts.length, 1);
      assert.deepEqual(accounts[0]!.profile, { email: "bob@new.example.test", email_verified: true, name: "Bob B." });
    });

    it("upstream tokens are stored sealed, never readable in the database", async () => {
      oidc.setUser({ sub: "carol", email: "carol@example.test", name: "Carol" });
      const { tokens } = await connect(app, "acme-oidc");
      const accountId = String(decodeJwt(tokens.access_token).sub);
      const [row] = await broker.services.db.$queryRawUnsafe<Record<string, unknown>[]>(`SELECT * FROM "Credential" WHERE "accountId" = $1`, accountId);
      assert.ok(row);
      assert.match(String(row.sealedAccessToken), /^v1\.[^.]+\.[^.]+\.[^.]+$/);
      assert.match(String(row.sealedRefreshToken), /^v1\./);
      const dump = JSON.stringify(await broker.services.db.$queryRawUnsafe(`SELECT * FROM "Credential"`));
      const issued = [...oidc.issuedAccessTokens(), ...oidc.issuedRefreshTokens()];
      assert.ok(issued.length > 0);
      for (const upstreamToken of issued) assert.ok(!dump.includes(upstreamToken), "an upstream token is in the database in clear");
      // A JWT (the upstream ID token) is header.payload.signature, both starting with eyJ; sealed values never are.
      assert.doesNotMatch(dump, /eyJ[\w-]+\.eyJ[\w-]+\./, "no JWT is stored in clear");
    });

    it("an upstream denial reaches the app as access_denied with its state", async () => {
      oidc.denyNext();
      const { challenge } = await pkce();
      const back = await authorize(app, { scope: "proxy", connector: "acme-oidc", state: "st-deny", code_challenge: challenge, code_challenge_method: "S256" });
      assert.equal(back.searchParams.get("error"), "access_denied");
      assert.equal(back.searchParams.get("state"), "st-deny");
      assert.equal(back.searchParams.get("iss"), broker.url);
    });
  });

  describe("with a plain OAuth2 upstream (GitHub-like, identity from /user)", () => {
    it("connects an account, learns the identity from identity.url, and translates nested scopes", async () => {
      github.setUser({ id: 4242, login: "octo", email: "octo@example.test", name: "Octo Cat" });
      const { tokens } = await connect(app, "gh", "openid email proxy gh:repo.read");
      const claims = decodeJwt(tokens.access_token);
      assert.equal(claims.connector, "gh");
      assert.match(String(claims.scope), /gh:repo\.read/);
      const account = await broker.services.db.account.findUniqueOrThrow({ where: { id: String(claims.sub) } });
      assert.equal(account.upstreamSubject, "4242");
      assert.deepEqual(account.profile, { email: "octo@example.test", name: "Octo Cat" });
      assert.deepEqual(github.lastAuthorizeScopes?.(), ["repo"]);
    });

    it("a public client completes the flow with PKCE and no secret", async () => {
      github.setUser({ id: 7, login: "pub", email: "pub@example.test", name: "Pub" });
      const { tokens } = await connect(publicApp, "gh", "proxy offline_access");
      assert.equal(decodeJwt(tokens.access_token).client_id, publicApp.id);
      assert.ok(tokens.refresh_token);
    });
  });

  describe("rejections", () => {
    async function rawAuthorize(params: Record<string, string>, browser = new TestBrowser()) {
      const url = new URL("/oauth/authorize", broker.url);
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      return browser.navigate(url.href, { stopAt: (u) => u.href.startsWith(APP_REDIRECT) });
    }

    it("an unknown client gets an error page, never a redirect", async () => {
      const page = await rawAuthorize({ client_id: "app_nope", redirect_uri: APP_REDIRECT, response_type: "code", state: "s" });
      assert.equal(page.status, 400);
      assert.match(page.headers.get("content-type") ?? "", /text\/html/);
      assert.match(page.body, /invalid_client/);
      assert.equal(page.headers.get("x-frame-options"), "DENY");
      assert.match(page.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
    });

    it("a redirect URI that is not registered exactly gets an error page, never a redirect", async () => {
      for (const redirect_uri of [`${APP_REDIRECT}/extra`, `${APP_REDIRECT}?x=1`, "http://127.0.0.1:9/CALLBACK", "https://evil.example/callback"]) {
        const page = await rawAuthorize({ client_id: app.id, redirect_uri, response_type: "code", state: "s", connector: "gh" });
        assert.equal(page.status, 400, redirect_uri);
        assert.match(page.body, /invalid_redirect_uri/, redirect_uri);
      }
    });

    it("a loopback redirect URI may use another port (RFC 8252 §7.3)", async () => {
      const { challenge } = await pkce();
      const page = await rawAuthorize({
        client_id: app.id,
        redirect_uri: "http://127.0.0.1:9/callback",
        response_type: "code",
        state: "s",
        code_challenge: challenge,
        code_challenge_method: "S256",
      });
      assert.equal(page.status, 200, "shows the picker");
    });

    it("a public client without PKCE is sent back invalid_request with its state and iss", async () => {
      const page = await rawAuthorize({ client_id: publicApp.id, redirect_uri: APP_REDIRECT, response_type: "code", state: "st-pkce", connector: "gh" });
      assert.equal(page.url.searchParams.get("error"), "invalid_request");
      assert.equal(page.url.searchParams.get("state"), "st-pkce");
      assert.equal(page.url.searchParams.get("iss"), broker.url);
    });

    it("a confidential client without PKCE is sent back invalid_request too (OAuth 2.1: PKCE for every client)", async () => {
      const page = await rawAuthorize({ client_id: app.id, redirect_uri: APP_REDIRECT, response_type: "code", state: "st-conf", connector: "gh" });
      assert.equal(page.url.searchParams.get("error"), "invalid_request");
      assert.match(page.url.searchParams.get("error_description") ?? "", /PKCE is required/);
      assert.equal(page.url.searchParams.get("state"), "st-conf");
    });

    it("a legacy confidential app registered without PKCE still completes the flow without it", async () => {
      const created = await broker.services.clients.create({ name: "Legacy", redirectUris: [APP_REDIRECT], scopes: ["proxy"], requirePkce: false });
      const legacy: App = {
        id: created.client.id,
        secret: created.secret,
        config: await client.discovery(new URL(broker.url), created.client.id, undefined, client.ClientSecretBasic(created.secret!), insecure),
      };
      github.setUser({ id: 102, login: "legacy", email: "legacy@example.test", name: "Legacy" });
      const state = client.randomState();
      const back = await authorize(legacy, { scope: "proxy", connector: "gh", state });
      assert.ok(back.searchParams.get("code"), back.href);
      const tokens = await client.authorizationCodeGrant(legacy.config, back, { expectedState: state });
      assert.equal(tokens.scope, "proxy");
    });

    it("an app registered with an http://localhost redirect URI before it was refused gets an error page naming the fix, never a redirect", async () => {
      const created = await broker.services.clients.create({ name: "Old native app", redirectUris: ["http://127.0.0.1:9/cb"], scopes: ["proxy"] });
      // Registered when http://localhost was still accepted.
      await broker.services.db.app.update({ where: { id: created.client.id }, data: { redirectUris: ["http://localhost:9/cb"] } });
      broker.services.clients.invalidate(created.client.id);
      const { challenge } = await pkce();
      const page = await rawAuthorize({
        client_id: created.client.id,
        redirect_uri: "http://localhost:9/cb",
        response_type: "code",
        state: "s",
        code_challenge: challenge,
        code_challenge_method: "S256",
      });
      assert.equal(page.status, 400);
      assert.equal(page.chain.length, 1, "no redirect");
      assert.match(page.body, /invalid_redirect_uri/);
      assert.match(page.body, /RFC 8252 §8\.3/);
      assert.match(page.body, /http:\/\/127\.0\.0\.1:9\/cb/);
    });

    it("code_challenge_method=plain is refused", async () => {
      const page = await rawAuthorize({
        client_id: app.id,
        redirect_uri: APP_REDIRECT,
        response_type: "code",
        state: "s",
        connector: "gh",
        code_challenge: "a".repeat(43),
        code_challenge_method: "plain",
      });
      assert.equal(page.url.searchParams.get("error"), "invalid_request");
      assert.match(page.url.searchParams.get("error_description") ?? "", /S256/);
    });

    it("an unknown connector is refused with invalid_request", async () => {
      const { challenge } = await pkce();
      const page = await rawAuthorize({
        client_id: app.id,
        redirect_uri: APP_REDIRECT,
        response_type: "code",
        state: "s",
        connector: "nope",
        code_challenge: challenge,
        code_challenge_method: "S256",
      });
      assert.equal(page.url.searchParams.get("error"), "invalid_request");
      assert.match(page.url.searchParams.get("error_description") ?? "", /unknown connector/);
    });

    it("a scope the app is not registered for, or the connector lacks, is refused with invalid_scope", async () => {
      const { challenge } = await pkce();
      for (const scope of ["admin", "gh:nope", "acme-oidc:profile"]) {
        const page = await rawAuthorize({
          client_id: app.id,
          redirect_uri: APP_REDIRECT,
          response_type: "code",
          state: "s",
          connector: "gh",
          scope,
          code_challenge: challenge,
          code_challenge_method: "S256",
        });
        assert.equal(page.url.searchParams.get("error"), "invalid_scope", scope);
      }
    });

    it("an unsupported response_type is refused", async () => {
      const page = await rawAuthorize({ client_id: app.id, redirect_uri: APP_REDIRECT, response_type: "none", state: "s", connector: "gh" });
      assert.equal(page.url.searchParams.get("error"), "unsupported_response_type");
    });

    it("without a connector the end user gets a picker of the connectors the app may use", async () => {
      const { challenge } = await pkce();
      const page = await rawAuthorize({
        client_id: app.id,
        redirect_uri: APP_REDIRECT,
        response_type: "code",
        state: "s",
        code_challenge: challenge,
        code_challenge_method: "S256",
      });
      assert.equal(page.status, 200);
      assert.match(page.body, /Acme OIDC/);
      assert.match(page.body, /GitHub-like/);
      assert.match(page.body, /connector=gh/);
    });

    it("a second use of a code fails and revokes the tokens the first use issued", async () => {
      github.setUser({ id: 99, login: "replay", email: "r@example.test", name: "R" });
      const { verifier, challenge } = await pkce();
      const state = client.randomState();
      const back = await authorize(app, { scope: "proxy offline_access", connector: "gh", state, code_challenge: challenge, code_challenge_method: "S256" });
      const first = await client.authorizationCodeGrant(app.config, back, { pkceCodeVerifier: verifier, expectedState: state });
      await assert.rejects(
        client.authorizationCodeGrant(app.config, back, { pkceCodeVerifier: verifier, expectedState: state }),
        (err: client.ResponseBodyError) => err.error === "invalid_grant",
      );
      await assert.rejects(client.refreshTokenGrant(app.config, first.refresh_token!), (err: client.ResponseBodyError) => err.error === "invalid_grant");
    });

    it("a wrong or missing PKCE verifier is refused", async () => {
      github.setUser({ id: 100, login: "pk", email: "pk@example.test", name: "PK" });
      const { challenge } = await pkce();
      const state = client.randomState();
      const back = await authorize(app, { scope: "proxy", connector: "gh", state, code_challenge: challenge, code_challenge_method: "S256" });
      await assert.rejects(
        client.authorizationCodeGrant(app.config, back, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: state }),
        (err: client.ResponseBodyError) => err.error === "invalid_grant",
      );
    });

    it("a bad client secret is refused with invalid_client and a Basic challenge", async () => {
      const res = await fetch(`${broker.url}/oauth/token`, {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${app.id}:abs_wrong-secret`).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: "grant_type=client_credentials&scope=proxy",
      });
      assert.equal(res.status, 401);
      assert.match(res.headers.get("www-authenticate") ?? "", /^Basic/);
      assert.equal(((await res.json()) as { error: string }).error, "invalid_client");
    });

    it("refresh tokens rotate, and reuse of a used one revokes the family", async () => {
      github.setUser({ id: 101, login: "rot", email: "rot@example.test", name: "Rot" });
      const { tokens } = await connect(app, "gh", "proxy offline_access");
      const second = await client.refreshTokenGrant(app.config, tokens.refresh_token!);
      assert.notEqual(second.refresh_token, tokens.refresh_token);
      await assert.rejects(client.refreshTokenGrant(app.config, tokens.refresh_token!), (err: client.ResponseBodyError) => err.error === "invalid_grant");
      await assert.rejects(
        client.refreshTokenGrant(app.config, second.refresh_token!),
        (err: client.ResponseBodyError) => err.error === "invalid_grant",
        "the whole family is revoked",
      );
    });

    it("a callback with a forged state is refused; a callback in another browser is refused", async () => {
      const browser = new TestBrowser();
      const { challenge } = await pkce();
      const start = new URL("/oauth/authorize", broker.url);
      for (const [k, v] of Object.entries({
        client_id: app.id,
        redirect_uri: APP_REDIRECT,
        response_type: "code",
        state: "st-x",
        connector: "gh",
        code_challenge: challenge,
        code_challenge_method: "S256",
      }))
        start.searchParams.set(k, v);
      // Stop at the upstream: the broker has stored a session bound to `browser`.
      const atUpstream = await browser.navigate(start.href, { stopAt: (u) => u.href.startsWith(github.authorizationUrl) });
      const upstreamState = atUpstream.url.searchParams.get("state")!;
      const forged = new URL(broker.callbackUrl("gh"));
      forged.searchParams.set("state", `${upstreamState.split(".")[0]}.forged`);
      forged.searchParams.set("code", "whatever");
      const back = await browser.navigate(forged.href, { stopAt: (u) => u.href.startsWith(APP_REDIRECT) });
      assert.equal(back.url.searchParams.get("error"), "invalid_request");
      assert.equal(back.url.searchParams.get("state"), "st-x");

      const again = await browser.navigate(start.href, { stopAt: (u) => u.href.startsWith(github.authorizationUrl) });
      const other = new TestBrowser();
      const stolen = new URL(broker.callbackUrl("gh"));
      stolen.searchParams.set("state", again.url.searchParams.get("state")!);
      stolen.searchParams.set("code", "whatever");
      const refused = await other.navigate(stolen.href, { stopAt: (u) => u.href.startsWith(APP_REDIRECT) });
      assert.equal(refused.url.searchParams.get("error"), "access_denied");

      const replay = await browser.navigate(stolen.href, { stopAt: (u) => u.href.startsWith(APP_REDIRECT) });
      assert.equal(replay.status, 400, "a used session is gone");
    });

    it("an error response with a forged state is refused as such, never passed on as the end user's answer", async () => {
      // openid-client checks the state of a code response only; an error
      // response never reaches it, so the broker's own check is all that
      // stops a forged `error=access_denied` from ending the app's flow as a denial.
      const browser = new TestBrowser();
      const { challenge } = await pkce();
      const start = new URL("/oauth/authorize", broker.url);
      for (const [k, v] of Object.entries({
        client_id: app.id,
        redirect_uri: APP_REDIRECT,
        response_type: "code",
        state: "st-err",
        connector: "gh",
        code_challenge: challenge,
        code_challenge_method: "S256",
      }))
        start.searchParams.set(k, v);
      const atUpstream = await browser.navigate(start.href, { stopAt: (u) => u.href.startsWith(github.authorizationUrl) });
      const upstreamState = atUpstream.url.searchParams.get("state")!;
      const forged = new URL(broker.callbackUrl("gh"));
      forged.searchParams.set("state", `${upstreamState.split(".")[0]}.forged`);
      forged.searchParams.set("error", "access_denied");
      const back = await browser.navigate(forged.href, { stopAt: (u) => u.href.startsWith(APP_REDIRECT) });
      assert.equal(back.url.searchParams.get("error"), "invalid_request");
      assert.equal(back.url.searchParams.get("error_description"), "the upstream state does not match");
      assert.equal(back.url.searchParams.get("state"), "st-err");
    });
  });

  describe("the connect callback's own answers (what the mutation run showed untested, docs/security.md)", () => {
    /** Starts a flow of `app` with `connector` in `browser` and stops at the upstream; returns the state the broker sent it. */
    async function atUpstream(browser: TestBrowser, state: string, connector = "gh"): Promise<string> {
      const { challenge } = await pkce();
      const start = new URL("/oauth/authorize", broker.url);
      for (const [k, v] of Object.entries({
        client_id: app.id,
        redirect_uri: APP_REDIRECT,
        response_type: "code",
        state,
        connector,
        code_challenge: challenge,
        code_challenge_method: "S256",
      }))
        start.searchParams.set(k, v);
      const page = await browser.navigate(start.href, { stopAt: (u) => u.href.startsWith(github.authorizationUrl) || u.href.startsWith(oidc.issuer) });
      return page.url.searchParams.get("state")!;
    }

    /** Sends the browser to the callback with `params` (the upstream state added) and returns the app's error and description. */
    async function answer(params: Record<string, string>, connector = "gh") {
      const browser = new TestBrowser();
      const upstreamState = await atUpstream(browser, "st-cb", connector);
      const back = new URL(broker.callbackUrl(connector));
      back.searchParams.set("state", upstreamState);
      for (const [k, v] of Object.entries(params)) back.searchParams.set(k, v);
      const page = await browser.navigate(back.href, { stopAt: (u) => u.href.startsWith(APP_REDIRECT) });
      assert.equal(page.url.searchParams.get("state"), "st-cb");
      return { error: page.url.searchParams.get("error"), description: page.url.searchParams.get("error_description") };
    }

    /** The log lines with message `msg` written while `run` ran (the broker writes them before it answers). */
    async function loggedDuring<T>(msg: string, run: () => Promise<T>): Promise<{ result: T; lines: Record<string, unknown>[] }> {
      const before = broker.services.logs.lines.length;
      const result = await run();
      return { result, lines: broker.services.logs.lines.slice(before).filter((line) => line.msg === msg) };
    }

    it("a refusal the app is told about is logged as info, a failure of the broker or the upstream as an error, each with its connector", async () => {
      const refused = await loggedDuring("connect refused", () => answer({ error: "access_denied" }));
      assert.equal(refused.result.error, "access_denied");
      assert.deepEqual(
        refused.lines.map((l) => [l.level, l.connectorId, (l.err as { type?: string }).type]),
        [[30, "gh", "access_denied"]],
      );
      github.failNextToken(500, { error: "server_error" });
      const failed = await loggedDuring("connect failed", () => answer({ code: "whatever" }));
      assert.equal(failed.result.error, "server_error");
      assert.deepEqual(
        failed.lines.map((l) => [l.level, l.connectorId, typeof (l.err as { message?: string }).message]),
        [[50, "gh", "string"]],
      );
    });

    it("an upstream's error is told to the app by name when it is the end user's or a pause, and as the upstream's failure otherwise", async () => {
      assert.deepEqual(await answer({ error: "access_denied" }), { error: "access_denied", description: "the end user denied access at GitHub-like" });
      assert.deepEqual(await answer({ error: "temporarily_unavailable" }), {
        error: "temporarily_unavailable",
        description: "GitHub-like is temporarily unavailable",
      });
      assert.deepEqual(await answer({ error: `invalid_scope${"x".repeat(80)}` }), {
        error: "server_error",
        description: `GitHub-like refused the authorization request (invalid_scope${"x".repeat(51)})`,
      });
    });

    it("a response with neither a code nor an error is refused", async () => {
      assert.deepEqual(await answer({}), { error: "invalid_request", description: "GitHub-like sent neither a code nor an error" });
    });

    it("a response that arrives at another upstream's callback is refused (mix-up)", async () => {
      const browser = new TestBrowser();
      const upstreamState = await atUpstream(browser, "st-mix", "gh");
      const elsewhere = new URL(broker.callbackUrl("acme-oidc"));
      elsewhere.searchParams.set("state", upstreamState);
      elsewhere.searchParams.set("code", "whatever");
      const page = await browser.navigate(elsewhere.href, { stopAt: (u) => u.href.startsWith(APP_REDIRECT) });
      assert.equal(page.url.searchParams.get("error"), "access_denied");
      assert.equal(
        page.url.searchParams.get("error_description"),
        "the sign-in response arrived at another service's callback than the one the connection was started with",
      );
    });

    it("a failed code exchange at the upstream is the upstream's failure, described without its details", async () => {
      github.failNextToken(500, { error: "server_error", error_description: "upstream internals" });
      assert.deepEqual(await answer({ code: "whatever" }), { error: "server_error", description: "GitHub-like answered HTTP 500 during the code exchange" });
    });

    it("a response in another browser is refused, saying why", async () => {
      const browser = new TestBrowser();
      const upstreamState = await atUpstream(browser, "st-other");
      const back = new URL(broker.callbackUrl("gh"));
      back.searchParams.set("state", upstreamState);
      back.searchParams.set("code", "whatever");
      const page = await new TestBrowser().navigate(back.href, { stopAt: (u) => u.href.startsWith(APP_REDIRECT) });
      assert.equal(page.url.searchParams.get("error"), "access_denied");
      assert.equal(page.url.searchParams.get("error_description"), "the connection was started in another browser or its cookie was lost");
    });

    it("without a state, with a state of no session, a used one or a corrupted one, the end user gets a page saying so", async () => {
      const page = (query: string) => new TestBrowser().navigate(`${broker.callbackUrl("gh")}?${query}`);
      for (const query of ["code=x", "state=nodot&code=x", "state=short.x&code=x"]) {
        const missing = await page(query);
        assert.equal(missing.status, 400, query);
        assert.match(missing.body, /invalid_request/);
        assert.match(missing.body, /This sign-in response is missing its state\. Start again from the app\./, query);
      }
      const gone = await page(`state=${"A".repeat(22)}.x&code=x`);
      assert.equal(gone.status, 400);
      assert.match(gone.body, /invalid_request/);
      assert.match(gone.body, /This sign-in session has expired or was already used\. Start again from the app\./);

      const browser = new TestBrowser();
      const upstreamState = await atUpstream(browser, "st-corrupt");
      await broker.services.redis.set(`interaction:${upstreamState.split(".")[0]}`, "not a sealed value", "EX", 60);
      const { result: corrupted, lines } = await loggedDuring("connect attempt unreadable", () =>
        browser.navigate(`${broker.callbackUrl("gh")}?state=${encodeURIComponent(upstreamState)}&code=x`),
      );
      assert.deepEqual(
        lines.map((l) => l.level),
        [50],
        "logged once, as an error",
      );
      assert.ok((lines[0]!.err as { message?: string }).message, "with the error");
      assert.equal(corrupted.status, 500);
      assert.match(corrupted.body, /server_error/);
      assert.match(corrupted.body, /The broker could not read this sign-in session\. Start again from the app\./);
    });
  });
});
