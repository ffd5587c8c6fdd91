/**
 * The upstream leg of the `oauth2` and `oidc` auth kinds against real
 * upstream servers on 127.0.0.1: a GitHub-like OAuth 2.0 server and
 * node-oidc-provider. Each flow starts from a connector file, builds the
 * authorization request, follows it through the upstream like a browser up
 * to the broker's callback URL, exchanges the code, refreshes, and learns
 * who connected — and each failure comes back as the broker's own error.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { parseConnectorText } from "../../../src/connectors/loader.js";
import { upstreamScopesFor } from "../../../src/connectors/scopes.js";
import { buildKindContext, createKindContext } from "../../../src/connectors/context.js";
import { CidrList } from "../../../src/net/cidr-list.js";
import { setConnectorCredentials } from "../../../src/connectors/credentials.js";
import { ConnectorNotConfigured, UpstreamInvalidGrant } from "../../../src/connectors/errors.js";
import {
  AuthKinds,
  loadBuiltInKinds,
  isIdentityFetcher,
  isRedirectAuthorizer,
  isRefresher,
  isRevoker,
  type AuthKind,
  type KindContext,
} from "../../../src/connectors/kinds/index.js";
import { AUTH_KINDS } from "../../../src/connectors/kinds/catalog.js";
import type { ConnectorConfig } from "../../../src/connectors/schema.js";
import { AccessDenied, BrokerError, InvalidRequest, UpstreamError } from "../../../src/errors.js";
import { createTestServices, type TestServices } from "../../support/services.js";
import { startOAuth2Upstream, OCTOCAT, type OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { startOidcUpstream, ALICE, type OidcUpstream } from "../../support/oidc-upstream.js";
import { TestBrowser } from "../../support/browser.js";
import { freePort } from "../../support/ports.js";

const ISSUER = "http://127.0.0.1:9";
const CALLBACK = `${ISSUER}/connect/callback`;
const APP = "app_kinds";

const GH_SECRET = "gh-secret-0123456789";
const OIDC_SECRET = "oidc-secret-0123456789";

/** Follows the authorization URL through the upstream to the broker's callback, as the end user's browser would. */
async function authorizeAt(url: URL, browser = new TestBrowser()): Promise<URL> {
  const page = await browser.navigate(url, { stopAt: (next) => next.href.startsWith(CALLBACK) });
  assert.ok(page.stopped, `expected a redirect to the callback, got ${page.status} at ${page.url.href}: ${page.body.slice(0, 200)}`);
  return page.url;
}

/** Asserts a rejection is the given broker error and carries no upstream token anywhere in its text. */
async function rejectsWith(
  promise: Promise<unknown>,
  type: new (...args: never[]) => BrokerError,
  message: RegExp,
  secrets: () => string[] = () => [],
): Promise<BrokerError> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof type, `expected ${type.name}, got ${String(caught)}`);
  assert.match(caught.description, message);
  const text = `${caught.message} ${caught.detail ?? ""}`;
  for (const secret of secrets()) assert.ok(!text.includes(secret), "an upstream token appeared in an error");
  return caught;
}

describe("auth kinds against real upstreams", () => {
  let services: TestServices;
  let github: OAuth2Upstream;
  let oidcUpstream: OidcUpstream;
  let kinds: AuthKinds;
  /** The broker's registration at the GitHub-like upstream (a test adds the callback of a per-server connector to it). */
  const githubClient = { client_id: "broker-at-gh", client_secret: GH_SECRET, redirect_uris: [`${CALLBACK}/gh`] };

  before(async () => {
    kinds = await loadBuiltInKinds();
    services = await createTestServices({ BROKER_ISSUER: ISSUER });
    await services.db.app.create({
      data: {
        id: APP,
        name: "Kinds test app",
        tokenEndpointAuthMethod: "client_secret_basic",
        redirectUris: ["http://127.0.0.1:9/cb"],
        grantTypes: ["authorization_code"],
        responseTypes: ["code"],
        scopes: [],
      },
    });
    github = await startOAuth2Upstream({ clients: [githubClient] });
    oidcUpstream = await startOidcUpstream({
      clients: [{ client_id: "broker-at-oidc", client_secret: OIDC_SECRET, redirect_uris: [`${CALLBACK}/acme-oidc`] }],
    });
  });

  after(async () => {
    await Promise.allSettled([github?.close(), oidcUpstream?.close()]);
    await services?.teardown();
  });

  function githubConnector(change: (doc: Record<string, any>) => void = () => {}): ConnectorConfig {
    const doc: Record<string, any> = {
      id: "gh",
      name: "GitHub-like",
      auth: {
        kind: "oauth2",
        authorizationUrl: github.authorizationUrl,
        tokenUrl: github.tokenUrl,
        revocationUrl: github.revocationUrl,
        clientId: "broker-at-gh",
        clientSecret: "${env:GH_SECRET}",
      },
      scopes: { "repo.read": ["repo"], user: ["read:user", "user:email"] },
      defaultScopes: ["user"],
      api: { baseUrl: github.apiUrl, credentials: "bearer" },
      identity: { url: github.userUrl, subject: "id", email: "email", name: "name" },
    };
    change(doc);
    return parseConnectorText("connectors/gh.yaml", stringify(doc), { GH_SECRET });
  }

  function oidcConnector(change: (doc: Record<string, any>) => void = () => {}, env: NodeJS.ProcessEnv = { OIDC_SECRET }): ConnectorConfig {
    const doc: Record<string, any> = {
      id: "acme-oidc",
      name: "Acme OIDC",
      auth: {
        kind: "oidc",
        issuer: oidcUpstream.issuer,
        clientId: "broker-at-oidc",
        clientSecret: "${env:OIDC_SECRET}",
        authorizationParams: { prompt: "consent" },
      },
      scopes: { profile: ["openid", "email", "profile"], offline: ["offline_access"] },
      defaultScopes: ["profile", "offline"],
    };
    change(doc);
    return parseConnectorText("connectors/acme-oidc.yaml", stringify(doc), env);
  }

  async function contextFor(connector: ConnectorConfig, requested: string[] = []): Promise<KindContext> {
    return buildKindContext(services, { connector, appId: APP, upstreamScopes: upstreamScopesFor(connector, requested) });
  }

  function redirectKind(connector: ConnectorConfig) {
    const kind: AuthKind = kinds.for(connector);
    assert.ok(isRedirectAuthorizer(kind) && isRefresher(kind) && isIdentityFetcher(kind) && isRevoker(kind));
    return kind;
  }

  describe("oauth2 (a GitHub-like server, identity from its /user)", () => {
    it("builds an authorization request with the callback URL, the mapped scopes, a state and a PKCE S256 challenge", async () => {
      const connector = githubConnector();
      const { url, checks } = await redirectKind(connector).authorizationRequest(await contextFor(connector, ["repo.read", "user"]), "broker-state-1");
      assert.equal(url.origin + url.pathname, github.authorizationUrl);
      assert.equal(url.searchParams.get("client_id"), "broker-at-gh");
      assert.equal(url.searchParams.get("redirect_uri"), `${CALLBACK}/gh`, "the connector's own callback");
      assert.equal(url.searchParams.get("response_type"), "code");
      assert.equal(url.searchParams.get("scope"), "repo read:user user:email");
      assert.equal(url.searchParams.get("state"), "broker-state-1");
      assert.equal(checks.state, "broker-state-1");
      assert.equal(url.searchParams.get("code_challenge_method"), "S256");
      assert.match(url.searchParams.get("code_challenge") ?? "", /^[A-Za-z0-9_-]{43}$/);
      assert.match(checks.codeVerifier ?? "", /^[A-Za-z0-9_-]{43,128}$/);
      assert.equal(url.searchParams.has("nonce"), false, "plain OAuth 2.0 has no nonce");
    });

    it("joins scopes with the connector's scopeSeparator and adds its authorizationParams", async () => {
      const connector = githubConnector((d) => {
        d.auth.scopeSeparator = ",";
        d.auth.authorizationParams = { allow_signup: "false" };
      });
      const { url, checks } = await redirectKind(connector).authorizationRequest(await contextFor(connector));
      assert.equal(url.searchParams.get("scope"), "read:user,user:email");
      assert.equal(url.searchParams.get("allow_signup"), "false");
      assert.match(checks.state, /^[A-Za-z0-9_-]{20,}$/, "a random state is made when none is given");
    });

    it("exchanges the code (state and PKCE checked) and learns the user from identity.url", async () => {
      const connector = githubConnector();
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      const callback = await authorizeAt(url);
      assert.equal(callback.searchParams.get("state"), checks.state);
      const grant = await kind.exchangeCode(ctx, callback, checks);
      assert.match(grant.tokens.accessToken, /^gho_/);
      assert.match(grant.tokens.refreshToken ?? "", /^ghr_/);
      assert.equal(grant.tokens.tokenType, "bearer");
      assert.ok(grant.tokens.expiresAt && Math.abs(grant.tokens.expiresAt.getTime() - (Date.now() + 3600_000)) < 10_000);
      assert.equal(grant.tokens.scope, "read:user user:email");
      assert.deepEqual(
        { subject: grant.identity.subject, email: grant.identity.email, name: grant.identity.name },
        { subject: String(OCTOCAT.id), email: OCTOCAT.email, name: OCTOCAT.name },
      );
      assert.equal(grant.identity.profile.login, OCTOCAT.login);
    });

    it("refreshes: a new access token and a rotated refresh token; the used one is then refused with invalid_grant", async () => {
      const connector = githubConnector();
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      const grant = await kind.exchangeCode(ctx, await authorizeAt(url), checks);
      const refreshed = await kind.refresh(ctx, grant.tokens.refreshToken!);
      assert.notEqual(refreshed.accessToken, grant.tokens.accessToken);
      assert.ok(refreshed.refreshToken && refreshed.refreshToken !== grant.tokens.refreshToken);
      const identity = await kind.fetchIdentity(ctx, refreshed);
      assert.equal(identity.subject, String(OCTOCAT.id));
      const err = await rejectsWith(
        kind.refresh(ctx, grant.tokens.refreshToken!),
        UpstreamInvalidGrant,
        /GitHub-like refused the refresh token \(invalid_grant\)/,
        () => github.issuedRefreshTokens(),
      );
      assert.equal(err.code, "invalid_grant");
    });

    it("client_secret_post authenticates with the secret in the body only (the upstream refuses two ways at once)", async () => {
      const connector = githubConnector((d) => (d.auth.tokenAuthMethod = "client_secret_post"));
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      const grant = await kind.exchangeCode(ctx, await authorizeAt(url), checks);
      assert.equal(grant.identity.subject, String(OCTOCAT.id));
    });

    it("a code used twice is refused with invalid_grant", async () => {
      const connector = githubConnector();
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      const callback = await authorizeAt(url);
      await kind.exchangeCode(ctx, callback, checks);
      await rejectsWith(kind.exchangeCode(ctx, callback, checks), UpstreamInvalidGrant, /refused the authorization code/);
    });

    it("a callback whose state is not the one sent is refused before any token request", async () => {
      const connector = githubConnector();
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      const callback = await authorizeAt(url);
      const before = github.stats.tokenByGrant.authorization_code ?? 0;
      await rejectsWith(kind.exchangeCode(ctx, callback, { ...checks, state: "another-state" }), InvalidRequest, /does not match this sign-in \(state\)/);
      assert.equal(github.stats.tokenByGrant.authorization_code ?? 0, before, "no code was sent upstream");
    });

    it("a wrong PKCE verifier is refused by the upstream (invalid_grant)", async () => {
      const connector = githubConnector();
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      await rejectsWith(kind.exchangeCode(ctx, await authorizeAt(url), { ...checks, codeVerifier: "x".repeat(43) }), UpstreamInvalidGrant, /invalid_grant/);
    });

    it("an end user who denies access upstream becomes access_denied", async () => {
      const connector = githubConnector();
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      github.denyNext();
      await rejectsWith(kind.exchangeCode(ctx, await authorizeAt(url), checks), AccessDenied, /denied access at GitHub-like/);
    });

    it("upstream failures become 502/504 errors that name the connector, never a token", async () => {
      const connector = githubConnector();
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      const grant = await kind.exchangeCode(ctx, await authorizeAt(url), checks);

      github.failNextToken(500, { error: "server_error", error_description: `token ${grant.tokens.refreshToken} exploded` });
      const failed = await rejectsWith(kind.refresh(ctx, grant.tokens.refreshToken!), UpstreamError, /GitHub-like answered HTTP 500 during the refresh/, () => [
        grant.tokens.refreshToken!,
        grant.tokens.accessToken,
      ]);
      assert.equal(failed.status, 502);

      github.failNextToken(401, { error: "invalid_client" });
      await rejectsWith(kind.refresh(ctx, grant.tokens.refreshToken!), UpstreamError, /refused the broker's client credentials \(invalid_client\)/);

      // GitHub answers token errors with HTTP 200 and its own codes; a dead refresh token still means re-authorization.
      github.failNextToken(200, { error: "bad_refresh_token", error_description: "The refresh token passed is incorrect or expired." });
      const dead = await rejectsWith(kind.refresh(ctx, grant.tokens.refreshToken!), UpstreamInvalidGrant, /refused the refresh token \(invalid_grant\)/);
      assert.match(dead.detail ?? "", /bad_refresh_token/);

      github.failNextUser(500);
      await rejectsWith(kind.fetchIdentity(ctx, grant.tokens), UpstreamError, /identity URL answered HTTP 500/, () => [grant.tokens.accessToken]);

      github.revokeAll();
      await rejectsWith(kind.fetchIdentity(ctx, grant.tokens), UpstreamError, /refused the access token at its identity URL \(HTTP 401\)/, () => [
        grant.tokens.accessToken,
      ]);
    });

    it("an identity response without the subject path fails the connect", async () => {
      const connector = githubConnector((d) => (d.identity.subject = "data.user.id"));
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      await rejectsWith(kind.exchangeCode(ctx, await authorizeAt(url), checks), UpstreamError, /has no "data.user.id"/);
    });

    it("an unreachable upstream is a 502 'could not be reached'", async () => {
      const port = await freePort();
      const connector = githubConnector((d) => (d.auth.tokenUrl = `http://127.0.0.1:${port}/token`));
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      await rejectsWith(kind.exchangeCode(ctx, await authorizeAt(url), checks), UpstreamError, /GitHub-like could not be reached/);
    });

    it("revokes a token at the upstream's revocation endpoint (RFC 7009)", async () => {
      const connector = githubConnector();
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      const grant = await kind.exchangeCode(ctx, await authorizeAt(url), checks);
      assert.equal(await kind.revoke(ctx, grant.tokens.refreshToken!, "refresh_token"), true);
      await rejectsWith(kind.refresh(ctx, grant.tokens.refreshToken!), UpstreamInvalidGrant, /invalid_grant/);
      const withoutEndpoint = githubConnector((d) => delete d.auth.revocationUrl);
      assert.equal(await redirectKind(withoutEndpoint).revoke(await contextFor(withoutEndpoint), "whatever"), false);
    });

    it("a per-server connector fills {hostname} in every URL and completes the flow", async () => {
      const hostname = `127.0.0.1:${github.port}`;
      const connector = githubConnector((d) => {
        d.auth.authorizationUrl = "http://{hostname}/login/oauth/authorize";
        d.auth.tokenUrl = "http://{hostname}/login/oauth/access_token";
        d.auth.revocationUrl = "http://{hostname}/login/oauth/revoke";
        d.api.baseUrl = "http://{hostname}/api";
        d.identity.url = "http://{hostname}/user";
        // The file's credentials may go to this one server.
        d.hostname = { pattern: "^127\\.0\\.0\\.1:\\d+$", sharedCredentialHosts: [hostname] };
      });
      githubClient.redirect_uris.push(`${CALLBACK}/gh/${hostname}`);
      const kind = redirectKind(connector);
      await assert.rejects(contextFor(connector), TypeError, "a per-server connector needs a hostname");
      const ctx = await buildKindContext(services, {
        connector,
        appId: APP,
        upstreamScopes: ["read:user"],
        hostname,
        pinned: { address: "127.0.0.1", family: 4 },
      });
      const { url, checks } = await kind.authorizationRequest(ctx);
      assert.equal(url.host, hostname);
      assert.equal(url.searchParams.get("redirect_uri"), `${CALLBACK}/gh/${hostname}`, "the server's own callback");
      const grant = await kind.exchangeCode(ctx, await authorizeAt(url), checks);
      assert.equal(grant.identity.subject, String(OCTOCAT.id));
    });

    it("plain http is refused unless BROKER_ALLOW_PRIVATE_HOSTS covers the address", () => {
      const connector = githubConnector();
      assert.throws(
        () =>
          createKindContext({
            connector,
            credentials: { clientId: "x", clientSecret: "y", source: "file" },
            issuer: ISSUER,
            upstreamScopes: [],
            allowPrivateHosts: new CidrList([]),
            fetch: services.outbound.fetch,
          }),
        (err: unknown) =>
          err instanceof ConnectorNotConfigured &&
          /uses http:\/\/127\.0\.0\.1:\d+, which is allowed only for addresses in BROKER_ALLOW_PRIVATE_HOSTS/.test(err.description),
      );
    });
  });

  describe("oidc (node-oidc-provider, discovery, ID token and userinfo)", () => {
    it("builds an authorization request from discovery with openid, a nonce and PKCE", async () => {
      const connector = oidcConnector();
      const { url, checks } = await redirectKind(connector).authorizationRequest(await contextFor(connector));
      assert.equal(url.origin, oidcUpstream.issuer);
      assert.deepEqual(url.searchParams.get("scope")?.split(" "), ["openid", "email", "profile", "offline_access"]);
      assert.equal(url.searchParams.get("nonce"), checks.nonce);
      assert.ok(checks.nonce && checks.codeVerifier);
      assert.equal(url.searchParams.get("prompt"), "consent");
    });

    it("adds openid when the mapped scopes lack it", async () => {
      const connector = oidcConnector((d) => (d.scopes = { offline: ["offline_access"] }) && (d.defaultScopes = ["offline"]));
      const { url } = await redirectKind(connector).authorizationRequest(await contextFor(connector));
      assert.equal(url.searchParams.get("scope"), "openid offline_access");
    });

    it("exchanges the code (state, iss, PKCE and nonce checked) and takes the identity from the ID token", async () => {
      const connector = oidcConnector();
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      const callback = await authorizeAt(url);
      assert.equal(callback.searchParams.get("iss"), oidcUpstream.issuer, "RFC 9207 iss is in the response");
      const userinfoBefore = oidcUpstream.stats.userinfo;
      const grant = await kind.exchangeCode(ctx, callback, checks);
      assert.ok(grant.tokens.idToken, "the ID token is kept");
      assert.ok(grant.tokens.refreshToken, "offline_access gives a refresh token");
      assert.equal(grant.tokens.tokenType, "bearer");
      assert.deepEqual(
        { subject: grant.identity.subject, email: grant.identity.email, name: grant.identity.name },
        { subject: ALICE.sub, email: ALICE.email, name: ALICE.name },
      );
      assert.equal(grant.identity.profile.nonce, undefined, "protocol claims are not profile");
      assert.equal(oidcUpstream.stats.userinfo, userinfoBefore, "the ID token had email and name: no userinfo call");
    });

    it("refreshes with rotation; reusing the old refresh token is invalid_grant; userinfo names the user", async () => {
      const connector = oidcConnector();
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      const grant = await kind.exchangeCode(ctx, await authorizeAt(url), checks);
      const refreshed = await kind.refresh(ctx, grant.tokens.refreshToken!);
      assert.notEqual(refreshed.accessToken, grant.tokens.accessToken);
      assert.ok(refreshed.refreshToken && refreshed.refreshToken !== grant.tokens.refreshToken);
      assert.ok(refreshed.expiresAt && refreshed.expiresAt.getTime() > Date.now());
      const identity = await kind.fetchIdentity(ctx, refreshed);
      assert.equal(identity.subject, ALICE.sub);
      assert.equal(identity.email, ALICE.email);
      await rejectsWith(kind.refresh(ctx, grant.tokens.refreshToken!), UpstreamInvalidGrant, /Acme OIDC refused the refresh token/, () =>
        oidcUpstream.issuedRefreshTokens(),
      );
    });

    it("an ID token whose nonce is not the one sent is refused (OIDC Core §3.1.3.7)", async () => {
      const connector = oidcConnector();
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      await rejectsWith(
        kind.exchangeCode(ctx, await authorizeAt(url), { ...checks, nonce: "another-nonce" }),
        InvalidRequest,
        /does not match this sign-in \(nonce\)/,
      );
    });

    it("a response claiming another issuer is refused (RFC 9207 mix-up defence)", async () => {
      const connector = oidcConnector();
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      const callback = await authorizeAt(url);
      callback.searchParams.set("iss", "http://127.0.0.1:1");
      await rejectsWith(kind.exchangeCode(ctx, callback, checks), InvalidRequest, /did not come from Acme OIDC \(iss\)/);
    });

    it("a state mismatch is refused", async () => {
      const connector = oidcConnector();
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      await rejectsWith(kind.exchangeCode(ctx, await authorizeAt(url), { ...checks, state: "forged" }), InvalidRequest, /\(state\)/);
    });

    it("an end user who denies access becomes access_denied", async () => {
      const connector = oidcConnector();
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      oidcUpstream.denyNext();
      await rejectsWith(kind.exchangeCode(ctx, await authorizeAt(url), checks), AccessDenied, /denied access at Acme OIDC/);
    });

    it("revocation goes to the discovered endpoint; the revoked refresh token is then invalid_grant", async () => {
      const connector = oidcConnector();
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      const grant = await kind.exchangeCode(ctx, await authorizeAt(url), checks);
      const revocations = oidcUpstream.stats.revocation;
      assert.equal(await kind.revoke(ctx, grant.tokens.refreshToken!, "refresh_token"), true);
      assert.equal(oidcUpstream.stats.revocation, revocations + 1);
      await rejectsWith(kind.refresh(ctx, grant.tokens.refreshToken!), UpstreamInvalidGrant, /invalid_grant/);
    });

    it("discovery is fetched once per issuer and reused", async () => {
      const local = await loadBuiltInKinds();
      const connector = oidcConnector();
      const kind = local.for(connector);
      assert.ok(isRedirectAuthorizer(kind));
      const fetched: string[] = [];
      const ctx = createKindContext({
        connector,
        credentials: { clientId: "broker-at-oidc", clientSecret: OIDC_SECRET, source: "file" },
        issuer: ISSUER,
        upstreamScopes: ["openid"],
        allowPrivateHosts: services.config.allowPrivateHosts,
        fetch: (url, init) => {
          fetched.push(new URL(url).pathname);
          return services.outbound.fetch(url, init);
        },
      });
      await kind.authorizationRequest(ctx);
      await kind.authorizationRequest(ctx);
      assert.deepEqual(fetched, ["/.well-known/openid-configuration"]);
    });

    it("a failed discovery is not remembered: the next request asks the issuer again", async () => {
      const connector = oidcConnector();
      const kind = (await loadBuiltInKinds()).for(connector);
      assert.ok(isRedirectAuthorizer(kind));
      let attempts = 0;
      const ctx = createKindContext({
        connector,
        credentials: { clientId: "broker-at-oidc", clientSecret: OIDC_SECRET, source: "file" },
        issuer: ISSUER,
        upstreamScopes: ["openid"],
        allowPrivateHosts: services.config.allowPrivateHosts,
        fetch: async (url, init) => (++attempts === 1 ? new Response("unavailable", { status: 503 }) : services.outbound.fetch(url, init)),
      });
      await assert.rejects(kind.authorizationRequest(ctx), UpstreamError);
      const { url } = await kind.authorizationRequest(ctx);
      assert.equal(url.origin, new URL(oidcUpstream.issuer).origin);
      assert.equal(attempts, 2);
    });

    it("the wrong client secret is a 502 naming invalid_client, without the secret", async () => {
      const connector = oidcConnector(() => {}, { OIDC_SECRET: "not-the-secret-0123456789" });
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      const { url, checks } = await kind.authorizationRequest(ctx);
      await rejectsWith(
        kind.exchangeCode(ctx, await authorizeAt(url), checks),
        UpstreamError,
        /refused the broker's client credentials \(invalid_client\)/,
        () => ["not-the-secret-0123456789"],
      );
    });

    it("client credentials stored with `credentials set` are used when the file has none", async () => {
      const connector = oidcConnector((d) => {
        delete d.auth.clientId;
        delete d.auth.clientSecret;
      });
      await assert.rejects(contextFor(connector), ConnectorNotConfigured);
      await setConnectorCredentials(services, { connectorId: connector.id, clientId: "broker-at-oidc", clientSecret: OIDC_SECRET });
      const kind = redirectKind(connector);
      const ctx = await contextFor(connector);
      assert.equal(ctx.credentials?.source, "default");
      const { url, checks } = await kind.authorizationRequest(ctx);
      const grant = await kind.exchangeCode(ctx, await authorizeAt(url), checks);
      assert.equal(grant.identity.subject, ALICE.sub);
    });
  });

  it("every kind of the file format is implemented, and a registry without one names it as a configuration error", () => {
    for (const { name } of AUTH_KINDS) assert.ok(kinds.has(name), `${name} is implemented`);
    const connector = parseConnectorText(
      "connectors/j.yaml",
      stringify({ id: "j", name: "J", auth: { kind: "password_grant", tokenUrl: "https://j.example/token" } }),
      {},
    );
    assert.throws(
      () => new AuthKinds([]).for(connector),
      (err: unknown) => err instanceof ConnectorNotConfigured && /auth kind "password_grant", which this broker does not implement yet/.test(err.description),
    );
  });
});
