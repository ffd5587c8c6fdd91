/**
 * The authorization_code grant (RFC 6749 §4.1.3, RFC 7636, OIDC Core
 * §3.1.3) against code rows written the way the connect flow writes them.
 * openid-client v6 is the app; raw requests where the app must misbehave.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import * as oidc from "openid-client";
import pg from "pg";
import { generateId, generateSecret, hashSecret } from "../../../src/crypto/secrets.js";
import { InvalidToken } from "../../../src/errors.js";
import { brokerApp } from "../../../src/main.js";
import { listen, type RunningServer } from "../../../src/http/server.js";
import { accessTokenHash, verifyAccessToken } from "../../../src/oauth/tokens.js";
import { createTestServices, type TestServices } from "../../support/services.js";
import { freePort } from "../../support/ports.js";
import { setSessionTimeZone } from "../../support/db.js";
import { until } from "../../support/wait.js";

const REDIRECT = "https://app.example.test/callback";
const OTHER_REDIRECT = "https://app.example.test/other";

interface App {
  id: string;
  secret: string | undefined;
  config: oidc.Configuration;
}

describe("authorization_code grant", () => {
  let services: TestServices;
  let server: RunningServer;
  let issuer: string;
  const insecure = { execute: [oidc.allowInsecureRequests] };
  let app: App;
  let otherApp: App;
  let spa: App;
  let noRefreshApp: App;
  let twoRedirectsApp: App;
  let legacyApp: App;

  before(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    services = await createTestServices({ BROKER_ISSUER: issuer });
    // Sessions in a time zone other than UTC: a timestamp written or compared
    // in session-local time instead of UTC (as Prisma stores them) would show.
    await setSessionTimeZone(services.database.url, "America/New_York");
    const [session] = await services.db.$queryRawUnsafe<{ tz: string }[]>("SELECT current_setting('TimeZone') AS tz");
    assert.equal(session?.tz, "America/New_York");
    await services.signingKeys.ensureCurrent();
    server = await listen(brokerApp(services), port, "127.0.0.1");
    const register = async (input: Parameters<TestServices["clients"]["create"]>[0]): Promise<App> => {
      const { client, secret } = await services.clients.create(input);
      const auth = secret ? oidc.ClientSecretBasic(secret) : oidc.None();
      return { id: client.id, secret, config: await oidc.discovery(new URL(issuer), client.id, undefined, auth, insecure) };
    };
    const scopes = ["openid", "email", "profile", "offline_access", "proxy"];
    app = await register({ name: "App", redirectUris: [REDIRECT], scopes });
    otherApp = await register({ name: "Other", redirectUris: [REDIRECT], scopes });
    spa = await register({ name: "SPA", redirectUris: [REDIRECT], isPublic: true, scopes });
    noRefreshApp = await register({ name: "No refresh", redirectUris: [REDIRECT], grantTypes: ["authorization_code"], scopes });
    twoRedirectsApp = await register({ name: "Two", redirectUris: [REDIRECT, OTHER_REDIRECT], scopes });
    legacyApp = await register({ name: "Legacy", redirectUris: [REDIRECT], scopes, requirePkce: false });
  });

  after(async () => {
    await server?.close(0);
    await services?.teardown();
  });

  async function connectAccount(target: App, status: "active" | "needs_reauth" | "revoked" = "active") {
    const id = generateId("acc", 12);
    await services.db.account.create({
      data: { id, appId: target.id, connectorId: "acme", upstreamSubject: `u-${id}`, profile: { email: `${id}@example.test`, name: "Ada Lovelace" }, status },
    });
    return id;
  }

  interface CodeOptions {
    target?: App;
    accountId?: string;
    scope?: string;
    verifier?: string | null;
    nonce?: string;
    redirectUri?: string;
    expiresAt?: Date;
    authTime?: Date;
    /** The stored challenge and method as given, instead of the S256 challenge of the verifier. */
    challenge?: { codeChallenge: string; codeChallengeMethod: string };
  }

  /** Writes a code row as the connect flow does and returns the code and its PKCE verifier. */
  async function issueCode(options: CodeOptions = {}) {
    const target = options.target ?? app;
    const accountId = options.accountId ?? (await connectAccount(target));
    const verifier = options.verifier === undefined ? oidc.randomPKCECodeVerifier() : options.verifier;
    const code = generateSecret();
    await services.db.authorizationCode.create({
      data: {
        codeHash: hashSecret(code),
        appId: target.id,
        accountId,
        redirectUri: options.redirectUri ?? REDIRECT,
        scope: options.scope ?? "openid email proxy offline_access",
        codeChallenge: options.challenge?.codeChallenge ?? (verifier === null ? null : await oidc.calculatePKCECodeChallenge(verifier)),
        codeChallengeMethod: options.challenge?.codeChallengeMethod ?? (verifier === null ? null : "S256"),
        nonce: options.nonce ?? null,
        authTime: options.authTime ?? new Date(Date.now() - 5_000),
        expiresAt: options.expiresAt ?? new Date(Date.now() + 60_000),
      },
    });
    return { code, verifier, accountId };
  }

  /** The URL the broker would have redirected the browser to (RFC 9207: with iss). */
  function callbackUrl(code: string, redirectUri = REDIRECT): URL {
    const url = new URL(redirectUri);
    url.searchParams.set("code", code);
    url.searchParams.set("iss", issuer);
    return url;
  }

  async function exchange(target: App, code: string, verifier: string | null, checks: oidc.AuthorizationCodeGrantChecks = {}, redirectUri = REDIRECT) {
    return oidc.authorizationCodeGrant(target.config, callbackUrl(code, redirectUri), { ...(verifier ? { pkceCodeVerifier: verifier } : {}), ...checks });
  }

  function basic(target: App): string {
    return `Basic ${Buffer.from(`${target.id}:${target.secret}`).toString("base64")}`;
  }

  async function rawExchange(target: App, params: Record<string, string>) {
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
    const body: Record<string, string> = { grant_type: "authorization_code", ...params };
    if (target.secret) headers.authorization = basic(target);
    else body.client_id = target.id;
    const response = await fetch(`${issuer}/oauth/token`, { method: "POST", headers, body: new URLSearchParams(body) });
    return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, string> };
  }

  const isInvalidGrant = (err: oidc.ResponseBodyError) => err.error === "invalid_grant" && err.status === 400;
  /** invalid_grant with exactly this description: each refusal says which check failed. */
  const invalidGrant = (description: string) => (err: oidc.ResponseBodyError) => {
    assert.equal(err.status, 400);
    assert.deepEqual({ error: err.error, error_description: err.error_description }, { error: "invalid_grant", error_description: description });
    return true;
  };

  describe("a valid code", () => {
    it("is exchanged for an account-bound RFC 9068 access token, a refresh token and an ID token", async () => {
      const nonce = oidc.randomNonce();
      const authTime = new Date(Date.now() - 30_000);
      const { code, verifier, accountId } = await issueCode({ nonce, authTime });
      const tokens = await exchange(app, code, verifier, { expectedNonce: nonce, idTokenExpected: true });

      const header = decodeProtectedHeader(tokens.access_token);
      const key = await services.signingKeys.current();
      assert.equal(header.typ, "at+jwt");
      assert.equal(header.alg, key.alg);
      assert.equal(header.kid, key.kid);
      const claims = decodeJwt(tokens.access_token);
      assert.equal(claims.iss, issuer);
      assert.equal(claims.sub, accountId);
      assert.equal(claims.aud, issuer);
      assert.equal(claims.client_id, app.id);
      assert.equal(claims.scope, "openid email proxy offline_access");
      assert.equal(claims.acct, accountId);
      assert.equal(claims.connector, "acme");
      assert.equal(typeof claims.jti, "string");
      assert.match(String(claims.gid), /^gr_[A-Za-z0-9_-]{22}$/, "the grant's id, of the kind every grant id is");
      assert.equal(claims.exp! - claims.iat!, 3600);
      assert.equal(tokens.expires_in, 3600);
      assert.equal(tokens.scope, "openid email proxy offline_access");

      const id = tokens.claims()!;
      assert.equal(id.iss, issuer);
      assert.equal(id.sub, accountId);
      assert.equal(id.aud, app.id);
      assert.equal(id.nonce, nonce);
      assert.equal(id.email, `${accountId}@example.test`);
      assert.equal(id.name, undefined, "no profile scope, no name (OIDC Core §5.4)");
      assert.equal(id.email_verified, undefined, "the upstream said nothing of verification");
      assert.equal(id.upstream_host, undefined, "not a per-server account");
      assert.equal(id.connector, "acme");
      assert.equal(id.auth_time, Math.floor(authTime.getTime() / 1000));
      assert.equal(id.at_hash, accessTokenHash(tokens.access_token, key.alg));
      assert.equal(id.exp! - id.iat, 3600);

      // Both verify with the published keys.
      const jwks = createRemoteJWKSet(new URL(`${issuer}/oauth/jwks`));
      await jwtVerify(tokens.access_token, jwks, { issuer, audience: issuer, typ: "at+jwt" });
      await jwtVerify(tokens.id_token!, jwks, { issuer, audience: app.id });

      assert.ok(tokens.refresh_token);
      const stored = await services.db.refreshToken.findUniqueOrThrow({ where: { tokenHash: hashSecret(tokens.refresh_token) } });
      assert.equal(stored.familyId, claims.gid, "the refresh token belongs to the grant the access token names");
      const family = await services.db.refreshFamily.findUniqueOrThrow({ where: { id: stored.familyId } });
      assert.equal(family.accountId, accountId);
      assert.equal(family.scope, "openid email proxy offline_access");
      const codeRow = await services.db.authorizationCode.findUniqueOrThrow({ where: { codeHash: hashSecret(code) } });
      assert.ok(codeRow.consumedAt, "the code is consumed");
      assert.equal(codeRow.familyId, family.id);
      assert.equal((await verifyAccessToken(services, tokens.access_token, "broker")).sub, accountId);
    });

    it("the token response is never cached", async () => {
      const { code, verifier } = await issueCode();
      const response = await rawExchange(app, { code, code_verifier: verifier!, redirect_uri: REDIRECT });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("cache-control"), "no-store");
      assert.equal(response.headers.get("pragma"), "no-cache");
    });

    it("refresh and ID tokens only for the scopes that ask for them", async () => {
      const { code, verifier } = await issueCode({ scope: "proxy" });
      const tokens = await exchange(app, code, verifier);
      assert.equal(tokens.refresh_token, undefined, "no offline_access, no refresh token");
      assert.equal(tokens.id_token, undefined, "no openid, no ID token");
      assert.equal(tokens.scope, "proxy");
      assert.equal(typeof decodeJwt(tokens.access_token).gid, "string", "the grant is recorded even without a refresh token");
    });

    it("no refresh token for a client not registered for the refresh_token grant", async () => {
      const { code, verifier } = await issueCode({ target: noRefreshApp, scope: "proxy offline_access" });
      const tokens = await exchange(noRefreshApp, code, verifier);
      assert.equal(tokens.refresh_token, undefined);
    });

    it("a public client exchanges its code with PKCE and no secret", async () => {
      const { code, verifier, accountId } = await issueCode({ target: spa, scope: "openid proxy offline_access" });
      const tokens = await exchange(spa, code, verifier, { idTokenExpected: true });
      assert.equal(decodeJwt(tokens.access_token).sub, accountId);
      assert.ok(tokens.refresh_token);
    });

    it("redirect_uri may be left out when the app has one registered URI and the code was issued for it", async () => {
      const { code, verifier } = await issueCode({ scope: "proxy" });
      const response = await rawExchange(app, { code, code_verifier: verifier! });
      assert.equal(response.status, 200, JSON.stringify(response.body));
    });

    it("a legacy confidential client registered without PKCE exchanges a code issued without a challenge, without a verifier", async () => {
      const { code } = await issueCode({ target: legacyApp, verifier: null, scope: "proxy" });
      const tokens = await exchange(legacyApp, code, null);
      assert.equal(tokens.scope, "proxy");
    });

    it("a legacy confidential client that sends PKCE anyway gets it checked", async () => {
      const { code, verifier } = await issueCode({ target: legacyApp, scope: "proxy" });
      await assert.rejects(exchange(legacyApp, code, oidc.randomPKCECodeVerifier()), invalidGrant("code_verifier does not match the code_challenge"));
      const tokens = await exchange(legacyApp, code, verifier);
      assert.equal(tokens.scope, "proxy");
    });
  });

  describe("codes that are refused with invalid_grant", () => {
    it("a missing code_verifier when the code has a challenge", async () => {
      const { code } = await issueCode();
      await assert.rejects(exchange(app, code, null), invalidGrant("code_verifier is required: the code was issued with a code_challenge"));
    });

    it("a wrong code_verifier", async () => {
      const { code } = await issueCode();
      await assert.rejects(exchange(app, code, oidc.randomPKCECodeVerifier()), invalidGrant("code_verifier does not match the code_challenge"));
      const short = await rawExchange(app, { code, code_verifier: "too-short", redirect_uri: REDIRECT });
      assert.equal(short.body.error, "invalid_grant");
    });

    it("a code_verifier for a code issued without a challenge (RFC 9700 §2.1.1 downgrade)", async () => {
      const { code } = await issueCode({ verifier: null });
      await assert.rejects(
        exchange(app, code, oidc.randomPKCECodeVerifier()),
        invalidGrant("code_verifier was sent, but the code was issued without a code_challenge"),
      );
    });

    it("a code_verifier of other than 43-128 unreserved characters, even when its S256 challenge matches (RFC 7636 §4.1)", async () => {
      const unreserved = "A".repeat(40) + "z9._~-";
      for (const verifier of ["A".repeat(42), "A".repeat(129), `${"A".repeat(43)}!`, `!${"A".repeat(43)}`, `${"A".repeat(21)} ${"A".repeat(21)}`]) {
        const { code } = await issueCode({ verifier, scope: "proxy" });
        const response = await rawExchange(app, { code, code_verifier: verifier, redirect_uri: REDIRECT });
        assert.equal(response.body.error, "invalid_grant", `verifier of ${verifier.length} characters: ${JSON.stringify(response.body)}`);
        assert.match(String(response.body.error_description), /43-128 unreserved/);
      }
      // The bounds themselves and every unreserved character are accepted.
      for (const verifier of ["A".repeat(43), "A".repeat(128), unreserved]) {
        const { code } = await issueCode({ verifier, scope: "proxy" });
        const response = await rawExchange(app, { code, code_verifier: verifier, redirect_uri: REDIRECT });
        assert.equal(response.status, 200, `verifier of ${verifier.length} characters: ${JSON.stringify(response.body)}`);
      }
    });

    it("a code whose challenge method is not S256, even when the verifier is the challenge (no plain)", async () => {
      const verifier = oidc.randomPKCECodeVerifier();
      const { code } = await issueCode({ verifier, scope: "proxy", challenge: { codeChallenge: verifier, codeChallengeMethod: "plain" } });
      const response = await rawExchange(app, { code, code_verifier: verifier, redirect_uri: REDIRECT });
      assert.equal(response.status, 400);
      assert.equal(response.body.error, "invalid_grant");
      assert.match(String(response.body.error_description), /challenge method is not supported/);
    });

    it("a stored challenge of another length than a SHA-256 is a mismatch, not a server error", async () => {
      const verifier = oidc.randomPKCECodeVerifier();
      const { code } = await issueCode({ verifier, scope: "proxy", challenge: { codeChallenge: "short", codeChallengeMethod: "S256" } });
      const response = await rawExchange(app, { code, code_verifier: verifier, redirect_uri: REDIRECT });
      assert.equal(response.status, 400);
      assert.equal(response.body.error, "invalid_grant");
      assert.match(String(response.body.error_description), /does not match/);
    });

    it("a code_verifier for a legacy client's code issued without a challenge: the downgrade is refused for it too", async () => {
      // The client need not use PKCE, but a verifier shows it sent a challenge that did not reach the code.
      const { code } = await issueCode({ target: legacyApp, verifier: null, scope: "proxy" });
      await assert.rejects(
        exchange(legacyApp, code, oidc.randomPKCECodeVerifier()),
        invalidGrant("code_verifier was sent, but the code was issued without a code_challenge"),
      );
    });

    it("a public client's code without a challenge", async () => {
      const { code } = await issueCode({ target: spa, verifier: null, scope: "proxy" });
      await assert.rejects(exchange(spa, code, null), invalidGrant("codes of this client must be bound to a PKCE challenge"));
    });

    it("a confidential client's code without a challenge (OAuth 2.1: PKCE for every client)", async () => {
      const { code } = await issueCode({ verifier: null, scope: "proxy" });
      const response = await rawExchange(app, { code, redirect_uri: REDIRECT });
      assert.equal(response.body.error, "invalid_grant");
      assert.match(String(response.body.error_description), /must be bound to a PKCE challenge/);
    });

    it("a code issued to another client, which stays usable by its own client", async () => {
      const { code, verifier } = await issueCode({ scope: "proxy" });
      await assert.rejects(exchange(otherApp, code, verifier), invalidGrant("the authorization code is not valid for this client"));
      const tokens = await exchange(app, code, verifier);
      assert.equal(decodeJwt(tokens.access_token).client_id, app.id);
    });

    it("a redirect_uri other than the one of the authorization request", async () => {
      const { code, verifier } = await issueCode({ target: twoRedirectsApp });
      await assert.rejects(
        exchange(twoRedirectsApp, code, verifier, {}, OTHER_REDIRECT),
        invalidGrant("redirect_uri differs from the one of the authorization request"),
      );
      const missing = await rawExchange(twoRedirectsApp, { code, code_verifier: verifier! });
      assert.equal(missing.body.error, "invalid_grant", "with several registered URIs, redirect_uri cannot be implied");
      assert.equal(missing.body.error_description, "redirect_uri is required and must be the one of the authorization request");
    });

    it("a left-out redirect_uri is implied only when the one registered URI is the code's", async () => {
      // The app has one registered URI, but the code was issued for another (registered when the code was).
      const { code, verifier } = await issueCode({ redirectUri: OTHER_REDIRECT, scope: "proxy" });
      const response = await rawExchange(app, { code, code_verifier: verifier! });
      assert.equal(response.body.error, "invalid_grant");
      assert.match(String(response.body.error_description), /redirect_uri is required/);
    });

    it("a redirect_uri sent is compared even when the app has one registered URI", async () => {
      const { code, verifier } = await issueCode({ scope: "proxy" });
      const response = await rawExchange(app, { code, code_verifier: verifier!, redirect_uri: OTHER_REDIRECT });
      assert.deepEqual(response.body, { error: "invalid_grant", error_description: "redirect_uri differs from the one of the authorization request" });
    });

    it("an expired code", async () => {
      const { code, verifier } = await issueCode({ expiresAt: new Date(Date.now() - 1_000) });
      await assert.rejects(exchange(app, code, verifier), invalidGrant("the authorization code has expired"));
    });

    it("an unknown code", async () => {
      await assert.rejects(exchange(app, generateSecret(), oidc.randomPKCECodeVerifier()), invalidGrant("the authorization code is not valid for this client"));
    });

    it("a code of an account that needs re-authorization", async () => {
      const accountId = await connectAccount(app, "needs_reauth");
      const { code, verifier } = await issueCode({ accountId });
      await assert.rejects(exchange(app, code, verifier), invalidGrant("the account of this grant is needs_reauth; the end user must connect it again"));
    });

    it("a missing code is invalid_request", async () => {
      const response = await rawExchange(app, { redirect_uri: REDIRECT });
      assert.equal(response.status, 400);
      assert.deepEqual(response.body, { error: "invalid_request", error_description: "code is missing" });
    });
  });

  describe("single use (RFC 6749 §4.1.2)", () => {
    it("a second use of a code fails and revokes the tokens the first use issued", async () => {
      const { code, verifier } = await issueCode();
      const first = await exchange(app, code, verifier, { idTokenExpected: true });
      assert.equal((await verifyAccessToken(services, first.access_token, "broker")).client_id, app.id);

      await assert.rejects(exchange(app, code, verifier), invalidGrant("the authorization code has already been used"));

      await assert.rejects(oidc.refreshTokenGrant(app.config, first.refresh_token!), isInvalidGrant, "the refresh token of the first use is dead");
      await assert.rejects(
        async () => verifyAccessToken(services, first.access_token, "broker"),
        (err: unknown) => err instanceof InvalidToken && /revoked/.test(err.description),
        "the access token of the first use is revoked",
      );
      const gid = String(decodeJwt(first.access_token).gid);
      const family = await services.db.refreshFamily.findUniqueOrThrow({ where: { id: gid } });
      assert.ok(family.revokedAt);
      assert.equal(family.revokedReason, "authorization code replayed");
      const audit = await services.db.auditEvent.findFirst({ where: { action: "grant.revoked", appId: app.id } });
      assert.ok(audit, "the revocation is audited");
    });

    it("a replay also revokes a grant that issued no refresh token", async () => {
      const { code, verifier } = await issueCode({ scope: "proxy" });
      const first = await exchange(app, code, verifier);
      await assert.rejects(exchange(app, code, verifier), invalidGrant("the authorization code has already been used"));
      await assert.rejects(async () => verifyAccessToken(services, first.access_token, "broker"), InvalidToken);
    });

    it("a replay is refused as one before any other check: without the verifier it still revokes the first use's grant", async () => {
      // Whoever replays a code may lack its verifier (a stolen code): the replay, not the verifier, is the finding.
      const { code, verifier } = await issueCode({ scope: "proxy" });
      const first = await exchange(app, code, verifier);
      const replay = await rawExchange(app, { code, code_verifier: oidc.randomPKCECodeVerifier(), redirect_uri: REDIRECT });
      assert.deepEqual(replay.body, { error: "invalid_grant", error_description: "the authorization code has already been used" });
      await assert.rejects(async () => verifyAccessToken(services, first.access_token, "broker"), InvalidToken);
    });

    it("the revocation a replay causes is audited with the replaying request's id", async () => {
      const { code, verifier } = await issueCode({ scope: "proxy" });
      const first = await rawExchange(app, { code, code_verifier: verifier!, redirect_uri: REDIRECT });
      assert.equal(first.status, 200);
      const replay = await rawExchange(app, { code, code_verifier: verifier!, redirect_uri: REDIRECT });
      assert.equal(replay.body.error, "invalid_grant");
      const gid = String(decodeJwt(first.body.access_token!).gid);
      const audit = await services.db.auditEvent.findFirst({ where: { action: "grant.revoked", appId: app.id, detail: { path: ["familyId"], equals: gid } } });
      assert.ok(replay.headers.get("x-request-id"));
      assert.equal(audit?.requestId, replay.headers.get("x-request-id"));
    });

    it("a replay of a code consumed with no grant recorded (as before every exchange recorded one) is refused, not a server error", async () => {
      const { code, verifier } = await issueCode({ scope: "proxy" });
      await services.db.authorizationCode.update({ where: { codeHash: hashSecret(code) }, data: { consumedAt: new Date() } });
      const response = await rawExchange(app, { code, code_verifier: verifier!, redirect_uri: REDIRECT });
      assert.equal(response.status, 400);
      assert.deepEqual(response.body, { error: "invalid_grant", error_description: "the authorization code has already been used" });
    });

    it("of two concurrent uses exactly one wins, and the grant it got is revoked", async () => {
      const { code, verifier } = await issueCode();
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => exchange(app, code, verifier)));
      const won = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof exchange>>> => r.status === "fulfilled");
      assert.equal(won.length, 1, "exactly one exchange succeeds");
      for (const r of results) if (r.status === "rejected") assert.equal((r.reason as oidc.ResponseBodyError).error, "invalid_grant");
      await assert.rejects(async () => verifyAccessToken(services, won[0]!.value.access_token, "broker"), InvalidToken);
      await assert.rejects(oidc.refreshTokenGrant(app.config, won[0]!.value.refresh_token!), isInvalidGrant);
      const families = await services.db.refreshFamily.findMany({ where: { id: String(decodeJwt(won[0]!.value.access_token).gid) } });
      assert.ok(families[0]?.revokedAt);
    });

    it("of two exchanges that overlap, both past the lookup before either writes, exactly one wins", async () => {
      // A real overlap, not timing luck: a second connection holds the code
      // row's lock while both exchanges start, so both read the code unused
      // and both reach the consuming UPDATE; only then is the lock released.
      // Only the UPDATE's own `consumedAt IS NULL` re-check can stop the second.
      const { code, verifier, accountId } = await issueCode();
      const holder = new pg.Client({ connectionString: services.database.url });
      await holder.connect();
      try {
        await holder.query("BEGIN");
        await holder.query(`SELECT 1 FROM "AuthorizationCode" WHERE "codeHash" = $1 FOR UPDATE`, [hashSecret(code)]);
        const results = Promise.allSettled([exchange(app, code, verifier), exchange(app, code, verifier)]);
        await until("both exchanges to wait on the code row's lock", async () => {
          // Asked outside the holder's transaction, whose view of pg_stat_activity is a snapshot.
          const [row] = await services.db.$queryRawUnsafe<{ waiting: number }[]>(
            `SELECT count(*)::int AS waiting FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%UPDATE "AuthorizationCode"%'`,
          );
          return row!.waiting === 2;
        });
        await holder.query("COMMIT");
        const settled = await results;
        const won = settled.filter((r) => r.status === "fulfilled");
        assert.equal(won.length, 1, "exactly one exchange succeeds");
        const lost = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
        invalidGrant("the authorization code has already been used")(lost!.reason as oidc.ResponseBodyError);
        const families = await services.db.refreshFamily.findMany({ where: { accountId } });
        assert.equal(families.length, 1, "one grant recorded for one code");
      } finally {
        await holder.end();
      }
    });
  });
});
