/**
 * The device authorization grant (RFC 8628) end to end: openid-client's
 * `initiateDeviceAuthorization` and `pollDeviceAuthorizationGrant` play the
 * device, TestBrowser the end user on the /device pages, and the account is
 * connected at real upstreams through the same connect flow as the
 * authorization endpoint. Then every way it must refuse: polling too fast
 * (slow_down, with the interval kept longer), an expired code, a denied
 * request, a code redeemed twice, another app's code, guessed user codes,
 * a forged form.
 */
import type { IncomingMessage } from "node:http";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import { decodeJwt } from "jose";
import pg from "pg";
import { TestBrowser, type BrowserResponse } from "../../support/browser.js";
import { registerApp, startAsFixture, type AsFixture, type FixtureApp } from "../../support/as-fixture.js";
import { hashSecret } from "../../../src/crypto/secrets.js";
import { browserUserOf } from "../../../src/oauth/user-cookie.js";
import { failedUserCodesKey, MAX_FAILED_USER_CODES } from "../../../src/connect/device.js";
import { startTestBroker, type TestBroker } from "../../support/broker.js";
import { until } from "../../support/wait.js";

const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

interface RawResponse {
  status: number;
  body: Record<string, unknown>;
  /** The broker's X-Request-Id of the answer. */
  requestId: string | null;
}

describe("device authorization grant (RFC 8628)", () => {
  let fixture: AsFixture;
  let tv: FixtureApp;
  let confidential: FixtureApp;
  let noDevice: FixtureApp;
  let userId = 70_000;

  before(async () => {
    fixture = await startAsFixture();
    const scopes = ["openid", "email", "profile", "offline_access", "proxy"];
    tv = await registerApp(fixture, { name: "Living-room TV", isPublic: true, redirectUris: [], grantTypes: [DEVICE_GRANT, "refresh_token"], scopes });
    confidential = await registerApp(fixture, { name: "CLI tool", grantTypes: [DEVICE_GRANT, "refresh_token"], scopes });
    noDevice = await registerApp(fixture, { name: "Web app", scopes });
  });

  after(async () => {
    await fixture?.close();
  });

  function newUser(): void {
    userId += 1;
    fixture.github.setUser({ id: userId, login: `tv${userId}`, email: `tv${userId}@example.test`, name: `TV ${userId}` });
  }

  async function poll(app: FixtureApp, deviceCode: string): Promise<RawResponse> {
    const response = await fetch(`${fixture.broker.url}/oauth/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...(app.secret ? { authorization: `Basic ${Buffer.from(`${app.id}:${app.secret}`).toString("base64")}` } : {}),
      },
      body: new URLSearchParams({ grant_type: DEVICE_GRANT, device_code: deviceCode, ...(app.secret ? {} : { client_id: app.id }) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown>, requestId: response.headers.get("x-request-id") };
  }

  /** The end user's part: open the verification URI, confirm the code, press a button on the confirmation page. */
  async function actOnDevicePage(
    verificationUriComplete: string,
    button: string,
    browser = new TestBrowser(),
  ): Promise<{ confirmation: BrowserResponse; done: BrowserResponse }> {
    const entry = await browser.navigate(verificationUriComplete);
    const confirmation = await browser.submitForm(entry);
    const done = await browser.submitForm(confirmation, { button });
    return { confirmation, done };
  }

  describe("the whole flow", () => {
    it("a device polls while the end user types the code and connects an account; then it gets tokens bound to that account", async () => {
      newUser();
      const started = await client.initiateDeviceAuthorization(tv.config, { scope: "openid email proxy offline_access", connector: "gh" });
      assert.match(started.user_code, USER_CODE);
      assert.equal(started.verification_uri, `${fixture.broker.url}/device`);
      assert.equal(started.verification_uri_complete, `${fixture.broker.url}/device?user_code=${started.user_code}`);
      assert.equal(started.interval, 5);
      assert.equal(started.expires_in, 600);
      const polling = client.pollDeviceAuthorizationGrant(tv.config, started);
      // The end user is slower than the device's first poll (authorization_pending).
      await new Promise((resolve) => setTimeout(resolve, 5_500));
      const browser = new TestBrowser();
      const { confirmation, done } = await actOnDevicePage(started.verification_uri_complete!, "gh", browser);
      assert.match(confirmation.body, /Living-room TV/, "the end user sees which app asks");
      assert.ok(confirmation.body.includes(started.user_code), "and the code to compare with the device");
      // CSP form-action also governs the redirect after the submission: the upstream's sign-in page must be allowed.
      assert.ok((confirmation.headers.get("content-security-policy") ?? "").includes(`form-action 'self' https: ${fixture.github.url}`));
      assert.equal(done.status, 200);
      assert.match(done.body, /Return to your device/);
      assert.match(done.body, /<title>Device connected/);
      assert.match(done.body, /You're all set/);
      assert.match(done.body, /connected to <strong>Living-room TV<\/strong>/, "the page names the app");
      assert.match(done.body, /You can close this window\./);
      const tokens = await polling;
      const claims = decodeJwt(tokens.access_token);
      const approvedLine = fixture.broker.services.logs.lines.find((l) => l.msg === "device code approved" && l.accountId === claims.acct);
      assert.ok(approvedLine, "the approval is logged");
      assert.equal(approvedLine.clientId, tv.id);
      assert.equal(approvedLine.level, 30, "at info");
      assert.equal(claims.client_id, tv.id);
      assert.equal(claims.connector, "gh");
      assert.match(String(claims.gid), /^gr_[A-Za-z0-9_-]{22}$/, "the grant's id, of the kind every grant id is");
      const account = await fixture.broker.services.db.account.findUniqueOrThrow({ where: { id: String(claims.acct) } });
      assert.equal(account.upstreamSubject, String(userId));
      // The browser that approved is now known as the account's user (connect-on-demand links for it open there).
      const onDemandUrl = `${fixture.broker.url}/connect/on-demand/x`;
      const cookieHeader = { headers: { cookie: browser.cookieHeader(new URL(onDemandUrl)) } } as IncomingMessage;
      assert.equal(browserUserOf(fixture.broker.services.keyring, cookieHeader, tv.id), account.id);
      assert.ok(tokens.refresh_token, "offline_access gives a refresh token");
      assert.equal(tokens.claims()?.sub, claims.acct);
      assert.equal(tokens.claims()?.email, `tv${userId}@example.test`);
      assert.equal(tokens.claims()?.name, undefined, "no profile scope, no name (OIDC Core §5.4)");
      const refreshed = await client.refreshTokenGrant(tv.config, tokens.refresh_token!);
      assert.equal(decodeJwt(refreshed.access_token).acct, claims.acct);
    });

    it("without a connector in the request the end user picks one, here the OIDC upstream; a confidential client authenticates its polls", async () => {
      fixture.oidc.setUser({ sub: `dev-${userId}`, email: "dev@example.test", name: "Dev" });
      const started = await client.initiateDeviceAuthorization(confidential.config, { scope: "openid proxy" });
      const { confirmation, done } = await actOnDevicePage(started.verification_uri_complete!, "acme-oidc");
      assert.match(confirmation.body, /Acme OIDC/);
      assert.match(confirmation.body, /GitHub-like/);
      assert.equal(done.status, 200);
      const answer = await poll(confidential, started.device_code);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(decodeJwt(String(answer.body.access_token)).connector, "acme-oidc");
      const idToken = decodeJwt(String(answer.body.id_token));
      assert.deepEqual(
        [idToken.connector, idToken.email, idToken.email_verified, idToken.name],
        ["acme-oidc", undefined, undefined, undefined],
        "openid alone: who, not their email or name",
      );
      assert.equal(answer.body.refresh_token, undefined, "no offline_access, no refresh token");
    });

    it("the user code is read case-insensitively and without its dash", async () => {
      newUser();
      const started = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy", connector: "gh" });
      const browser = new TestBrowser();
      const entry = await browser.navigate(`${fixture.broker.url}/device`);
      const confirmation = await browser.submitForm(entry, { fields: { user_code: started.user_code.replace("-", " ").toLowerCase() } });
      assert.equal(confirmation.status, 200);
      await browser.submitForm(confirmation, { button: "gh" });
      assert.equal((await poll(tv, started.device_code)).status, 200);
    });

    it("device codes are stored only as hashes", async () => {
      const started = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy", connector: "gh" });
      const row = await fixture.broker.services.db.deviceCode.findUniqueOrThrow({ where: { deviceCodeHash: hashSecret(started.device_code) } });
      assert.equal(row.userCode, started.user_code.replace("-", ""));
      const dump = JSON.stringify(await fixture.broker.services.db.$queryRawUnsafe(`SELECT * FROM "DeviceCode"`));
      assert.ok(!dump.includes(started.device_code));
    });
  });

  describe("polling", () => {
    it("answers authorization_pending, then slow_down when polled too fast, keeping the longer interval", async () => {
      const started = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy", connector: "gh" });
      const first = await poll(tv, started.device_code);
      assert.equal(first.status, 400);
      assert.deepEqual(first.body, { error: "authorization_pending", error_description: "the end user has not connected an account yet" });
      const second = await poll(tv, started.device_code);
      assert.deepEqual(second.body, { error: "slow_down", error_description: "polling too often: wait 5 seconds longer between requests from now on" });
      const hash = hashSecret(started.device_code);
      assert.equal((await fixture.broker.services.db.deviceCode.findUniqueOrThrow({ where: { deviceCodeHash: hash } })).intervalSeconds, 10);
      const third = await poll(tv, started.device_code);
      assert.equal(third.body.error, "slow_down");
      assert.equal(
        (await fixture.broker.services.db.deviceCode.findUniqueOrThrow({ where: { deviceCodeHash: hash } })).intervalSeconds,
        15,
        "each slow_down adds 5 s for good",
      );
    });

    it("an expired device code answers expired_token, and its user code no longer works", async () => {
      const started = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy", connector: "gh" });
      await fixture.broker.services.db.deviceCode.update({
        where: { deviceCodeHash: hashSecret(started.device_code) },
        data: { expiresAt: new Date(Date.now() - 1000) },
      });
      const answer = await poll(tv, started.device_code);
      assert.equal(answer.status, 400);
      assert.deepEqual(answer.body, { error: "expired_token", error_description: "the device code has expired; start the device flow again" });
      const browser = new TestBrowser();
      const page = await browser.submitForm(await browser.navigate(started.verification_uri_complete!));
      assert.equal(page.status, 400);
      assert.match(page.body, /not valid or has expired/);
      await fixture.broker.services.redis.del(failedUserCodesKey(fixture.broker.url, "127.0.0.1"));
    });

    it("a request the end user denies answers access_denied", async () => {
      const started = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy", connector: "gh" });
      const { done } = await actOnDevicePage(started.verification_uri_complete!, "deny");
      assert.equal(new URL(done.url).searchParams.get("result"), "denied");
      assert.match(done.body, /Access denied/);
      const answer = await poll(tv, started.device_code);
      assert.equal(answer.status, 400);
      assert.deepEqual(answer.body, { error: "access_denied", error_description: "the end user denied the authorization request" });
      await assert.rejects(
        client.pollDeviceAuthorizationGrant(tv.config, { ...started, interval: 0 }),
        (err: client.ResponseBodyError) => err.error === "access_denied",
      );
    });

    it("an end user refusing at the upstream denies the device code too", async () => {
      const started = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy", connector: "gh" });
      fixture.github.denyNext();
      const { done } = await actOnDevicePage(started.verification_uri_complete!, "gh");
      assert.equal(done.status, 400);
      assert.match(done.body, /access_denied/);
      assert.match(done.body, /the end user denied access at GitHub-like\. Return to your device\./);
      assert.equal((await poll(tv, started.device_code)).body.error, "access_denied");
    });

    it("an upstream failure during a device connect is shown to the end user as one (500), and the device keeps waiting", async () => {
      const started = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy", connector: "gh" });
      newUser();
      fixture.github.failNextToken(500, { error: "server_error" });
      const { done } = await actOnDevicePage(started.verification_uri_complete!, "gh");
      assert.equal(done.status, 500);
      assert.match(done.body, /server_error/);
      assert.match(done.body, /GitHub-like answered HTTP 500 during the code exchange\. Return to your device\./);
      assert.equal((await poll(tv, started.device_code)).body.error, "authorization_pending", "only the end user's refusal denies the code");
    });

    /** Opens the device page, confirms the code, presses `gh` and stops at the upstream's sign-in page (which would send the browser back at once). */
    async function toUpstream(verificationUriComplete: string, browser: TestBrowser): Promise<URL> {
      const confirmation = await browser.submitForm(await browser.navigate(verificationUriComplete));
      const atUpstream = await browser.submitForm(confirmation, { button: "gh", stopAt: (u) => u.href.startsWith(fixture.github.authorizationUrl) });
      assert.equal(atUpstream.stopped, true, atUpstream.body);
      return atUpstream.url;
    }

    it("a device code that expires while the end user connects: the page says so (400 expired_token), and the device is told the same", async () => {
      newUser();
      const started = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy", connector: "gh" });
      const browser = new TestBrowser();
      const upstream = await toUpstream(started.verification_uri_complete!, browser);
      await fixture.broker.services.db.deviceCode.update({
        where: { deviceCodeHash: hashSecret(started.device_code) },
        data: { expiresAt: new Date(Date.now() - 1000) },
      });
      const done = await browser.navigate(upstream);
      assert.equal(done.status, 400);
      assert.match(done.body, /<code>expired_token<\/code>/);
      assert.match(done.body, /The code from your device expired before the account was connected\. Start again on the device\./);
      assert.doesNotMatch(done.body, /You're all set/);
      assert.equal((await poll(tv, started.device_code)).body.error, "expired_token");
    });

    it("an upstream that is temporarily unavailable, or an answer that is not one, is shown as such (503, 400); the device keeps waiting", async () => {
      for (const [params, status, code, description] of [
        [{ error: "temporarily_unavailable" }, 503, "temporarily_unavailable", "GitHub-like is temporarily unavailable"],
        [{}, 400, "invalid_request", "GitHub-like sent neither a code nor an error"],
      ] as const) {
        const started = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy", connector: "gh" });
        const browser = new TestBrowser();
        const upstream = await toUpstream(started.verification_uri_complete!, browser);
        const back = new URL(fixture.broker.callbackUrl("gh"));
        back.searchParams.set("state", upstream.searchParams.get("state")!);
        for (const [k, v] of Object.entries(params)) back.searchParams.set(k, v);
        const page = await browser.navigate(back);
        assert.equal(page.status, status, code);
        assert.match(page.body, new RegExp(`<code>${code}</code>`));
        assert.ok(page.body.includes(`${description}. Return to your device.`), page.body);
        assert.equal((await poll(tv, started.device_code)).body.error, "authorization_pending", `${code} leaves the device code pending`);
      }
    });

    it("a device code redeemed twice is refused, and the tokens of its first use are revoked", async () => {
      newUser();
      const started = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy offline_access", connector: "gh" });
      await actOnDevicePage(started.verification_uri_complete!, "gh");
      const first = await poll(tv, started.device_code);
      assert.equal(first.status, 200);
      const again = await poll(tv, started.device_code);
      assert.deepEqual(again.body, { error: "invalid_grant", error_description: "the device code has already been used" });
      const family = await fixture.broker.services.db.refreshFamily.findUniqueOrThrow({
        where: { id: String(decodeJwt(String(first.body.access_token)).gid) },
      });
      assert.equal(family.revokedReason, "device code replayed");
      const [revoked] = await fixture.broker.services.db.auditEvent.findMany({
        where: { action: "grant.revoked", detail: { path: ["familyId"], equals: family.id } },
      });
      assert.ok(again.requestId);
      assert.equal(revoked?.requestId, again.requestId, "the revocation's audit row names the poll that replayed the code");
      await assert.rejects(
        client.refreshTokenGrant(tv.config, String(first.body.refresh_token)),
        (err: client.ResponseBodyError) => err.error === "invalid_grant",
      );
      const introspection = await client.tokenIntrospection(confidential.config, String(first.body.access_token));
      assert.equal(introspection.active, false);
    });

    it("of two polls that overlap, both past the poll's record before either consumes the code, exactly one gets tokens", async () => {
      // A real overlap: a second connection holds a lock on the grants' table that the consuming statement needs
      // (it inserts the grant), so both polls find the code approved and wait at that statement; then it is released.
      // Only the statement's own "status = 'approved'" re-check can stop the second.
      newUser();
      const started = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy offline_access", connector: "gh" });
      await actOnDevicePage(started.verification_uri_complete!, "gh");
      const holder = new pg.Client({ connectionString: fixture.broker.services.config.databaseUrl });
      await holder.connect();
      try {
        await holder.query("BEGIN");
        await holder.query('LOCK TABLE "RefreshFamily" IN SHARE MODE');
        const polls = Promise.all([poll(tv, started.device_code), poll(tv, started.device_code)]);
        await until("both polls to wait at the consuming statement", async () => {
          const [row] = await fixture.broker.services.db.$queryRawUnsafe<{ waiting: number }[]>(
            `SELECT count(*)::int AS waiting FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%UPDATE "DeviceCode" SET "status" = ''consumed''%'`,
          );
          return row!.waiting === 2;
        });
        await holder.query("COMMIT");
        const answers = await polls;
        assert.deepEqual(answers.map((a) => a.status).sort(), [200, 400], "exactly one poll gets tokens");
        assert.deepEqual(answers.find((a) => a.status === 400)!.body, { error: "invalid_grant", error_description: "the device code has already been used" });
        const winner = answers.find((a) => a.status === 200)!;
        const family = await fixture.broker.services.db.refreshFamily.findUniqueOrThrow({
          where: { id: String(decodeJwt(String(winner.body.access_token)).gid) },
        });
        assert.equal(family.revokedReason, "device code replayed", "the losing poll is a replay: the grant it lost to is revoked");
      } finally {
        await holder.end();
      }
    });

    it("another app cannot redeem a device code", async () => {
      newUser();
      const started = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy", connector: "gh" });
      assert.equal((await poll(tv, started.device_code)).body.error, "authorization_pending");
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      assert.deepEqual((await poll(confidential, started.device_code)).body, {
        error: "invalid_grant",
        error_description: "the device code is not valid for this client",
      });
      assert.equal(
        (await poll(tv, started.device_code)).body.error,
        "authorization_pending",
        "another app's poll does not count against the device (no slow_down)",
      );
      await actOnDevicePage(started.verification_uri_complete!, "gh");
      assert.equal((await poll(confidential, started.device_code)).body.error, "invalid_grant");
      assert.equal((await poll(tv, started.device_code)).status, 200, "the code is still the device's");
    });
  });

  describe("refusals at the start", () => {
    it("an app not registered for the device grant gets unauthorized_client", async () => {
      await assert.rejects(
        client.initiateDeviceAuthorization(noDevice.config, { scope: "proxy" }),
        (err: client.ResponseBodyError) => err.error === "unauthorized_client",
      );
      const tokenRequest = await poll(noDevice, "whatever");
      assert.equal(tokenRequest.body.error, "unauthorized_client");
    });

    it("an unknown connector or a scope the app lacks is refused", async () => {
      await assert.rejects(
        client.initiateDeviceAuthorization(tv.config, { scope: "proxy", connector: "nope" }),
        (err: client.ResponseBodyError) => err.error === "invalid_request",
      );
      await assert.rejects(client.initiateDeviceAuthorization(tv.config, { scope: "admin" }), (err: client.ResponseBodyError) => err.error === "invalid_scope");
      await assert.rejects(
        client.initiateDeviceAuthorization(tv.config, { scope: "gh:nope", connector: "gh" }),
        (err: client.ResponseBodyError) => err.error === "invalid_scope",
      );
    });
  });

  describe("the /device pages", () => {
    it("carry the security headers of every page", async () => {
      const page = await new TestBrowser().navigate(`${fixture.broker.url}/device`);
      assert.equal(page.status, 200);
      assert.equal(page.headers.get("x-frame-options"), "DENY");
      assert.match(page.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
      assert.equal(page.headers.get("cache-control"), "no-store");
      assert.match(page.headers.get("set-cookie") ?? "", /SameSite=Strict/i);
    });

    it("refuse a form without this browser's CSRF token, or posted from another site", async () => {
      const started = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy", connector: "gh" });
      const browser = new TestBrowser();
      const entry = await browser.navigate(started.verification_uri_complete!);
      const forged = await browser.submitForm(entry, { fields: { csrf: "forged" } });
      assert.equal(forged.status, 403);
      const otherBrowser = await new TestBrowser().submitForm(entry);
      assert.equal(otherBrowser.status, 403, "a token without its cookie is useless");
      const crossSite = await browser.submitForm(entry, { headers: { origin: "https://evil.example" } });
      assert.equal(crossSite.status, 403);
      const nullOriginForged = await browser.submitForm(entry, { headers: { origin: "null" }, fields: { csrf: "forged" } });
      assert.equal(nullOriginForged.status, 403, "Origin: null (what a browser sends from a no-referrer page) still needs the token");
      const nullOrigin = await browser.submitForm(entry, { headers: { origin: "null" } });
      assert.equal(nullOrigin.status, 200, "a real browser posts our no-referrer pages with Origin: null");
      const confirmation = await browser.submitForm(entry);
      const forgedDecision = await browser.submitForm(confirmation, { button: "deny", fields: { csrf: "forged" } });
      assert.equal(forgedDecision.status, 403);
      assert.equal((await poll(tv, started.device_code)).body.error, "authorization_pending", "nothing was decided");
    });

    it(`refuse an address after ${MAX_FAILED_USER_CODES} wrong codes, even for a right one; X-Forwarded-For does not change the address`, async () => {
      const started = await client.initiateDeviceAuthorization(tv.config, { scope: "proxy", connector: "gh" });
      const browser = new TestBrowser();
      const entry = await browser.navigate(`${fixture.broker.url}/device`);
      try {
        for (let i = 0; i < MAX_FAILED_USER_CODES; i++) {
          // RFC 9700 §4.13: a header the client writes must not make it look like many clients.
          const wrong = await browser.submitForm(entry, { fields: { user_code: "BBBB-BBBB" }, headers: { "x-forwarded-for": `203.0.113.${i}` } });
          assert.equal(wrong.status, 400);
        }
        const right = await browser.submitForm(entry, { fields: { user_code: started.user_code }, headers: { "x-forwarded-for": "198.51.100.7" } });
        assert.equal(right.status, 429);
      } finally {
        await fixture.broker.services.redis.del(failedUserCodesKey(fixture.broker.url, "127.0.0.1"));
      }
      assert.equal((await browser.submitForm(entry, { fields: { user_code: started.user_code } })).status, 200);
    });
  });
});

describe("the /device guessing limit behind a reverse proxy (TRUST_PROXY_HOPS=1)", () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker({ env: { TRUST_PROXY_HOPS: "1" } });
  });
  after(async () => broker?.stop());

  it("counts wrong codes per client address the proxy appended; entries the client wrote change nothing", async () => {
    const browser = new TestBrowser();
    const entry = await browser.navigate(`${broker.url}/device`);
    const wrongFrom = (forwardedFor: string) => browser.submitForm(entry, { fields: { user_code: "BBBB-BBBB" }, headers: { "x-forwarded-for": forwardedFor } });
    for (let i = 0; i < MAX_FAILED_USER_CODES; i++) assert.equal((await wrongFrom(`198.51.100.${i}, 203.0.113.20`)).status, 400);
    assert.equal((await wrongFrom("198.51.100.99, 203.0.113.20")).status, 429, "the client's own entries do not make it a new client");
    assert.equal((await wrongFrom("203.0.113.21")).status, 400, "another client behind the same proxy still gets its tries");
  });
});
