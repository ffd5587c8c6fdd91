/**
 * Per-client token lifetimes: each app's access-token, refresh-token and ID
 * token lifetimes are what every grant issues, with the documented
 * defaults, front-channel access tokens capped at 300 s, and every access
 * and refresh token bounded by the broker's limits (a day, 90 days) even for
 * an app stored with more.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import { decodeJwt } from "jose";
import { TestBrowser } from "../../support/browser.js";
import { APP_REDIRECT, connectAccount, fragmentOf, registerApp, startAsFixture, type AsFixture, type FixtureApp } from "../../support/as-fixture.js";
import { hashSecret } from "../../../src/crypto/secrets.js";
import { ValidationFailed } from "../../../src/errors.js";

describe("per-client token lifetimes", () => {
  let fixture: AsFixture;
  let tuned: FixtureApp;
  let defaults: FixtureApp;
  const scopes = ["openid", "offline_access", "proxy"];

  before(async () => {
    fixture = await startAsFixture();
    tuned = await registerApp(fixture, {
      name: "Tuned",
      scopes,
      accessTokenTtl: 600,
      refreshTokenTtl: 7200,
      idTokenTtl: 900,
      responseTypes: ["code", "id_token token"],
      grantTypes: ["authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code"],
    });
    defaults = await registerApp(fixture, { name: "Defaults", scopes });
  });

  after(async () => {
    await fixture?.close();
  });

  function lifetime(jwt: string): number {
    const claims = decodeJwt(jwt);
    return Number(claims.exp) - Number(claims.iat);
  }

  async function refreshTokenLifetime(refreshToken: string): Promise<number> {
    const row = await fixture.broker.services.db.refreshToken.findUniqueOrThrow({ where: { tokenHash: hashSecret(refreshToken) } });
    return Math.round((row.expiresAt.getTime() - row.createdAt.getTime()) / 1000);
  }

  it("authorization code and refresh: the app's access, refresh and ID token lifetimes", async () => {
    const tokens = await connectAccount(fixture, tuned, "openid proxy offline_access");
    assert.equal(tokens.expires_in, 600);
    assert.equal(lifetime(tokens.access_token), 600);
    assert.equal(lifetime(tokens.id_token!), 900);
    assert.equal(await refreshTokenLifetime(tokens.refresh_token!), 7200);
    const refreshed = await client.refreshTokenGrant(tuned.config, tokens.refresh_token!);
    assert.equal(lifetime(refreshed.access_token), 600);
    assert.equal(lifetime(refreshed.id_token!), 900);
    assert.equal(await refreshTokenLifetime(refreshed.refresh_token!), 7200, "each rotated refresh token gets the app's lifetime");
  });

  it("client credentials and the device grant: the app's access-token lifetime", async () => {
    const own = await client.clientCredentialsGrant(tuned.config, { scope: "proxy" });
    assert.equal(lifetime(own.access_token), 600);
    fixture.github.setUser({ id: 60_001, login: "dev", email: "dev@example.test", name: "Dev" });
    const started = await client.initiateDeviceAuthorization(tuned.config, { scope: "proxy", connector: "gh" });
    const browser = new TestBrowser();
    const confirmation = await browser.submitForm(await browser.navigate(started.verification_uri_complete!));
    await browser.submitForm(confirmation, { button: "gh" });
    const device = await client.pollDeviceAuthorizationGrant(tuned.config, { ...started, interval: 0 });
    assert.equal(lifetime(device.access_token), 600);
  });

  it("the front channel: access tokens capped at 300 s, ID tokens at the app's lifetime", async () => {
    fixture.github.setUser({ id: 60_002, login: "fc", email: "fc@example.test", name: "FC" });
    const url = new URL("/oauth/authorize", fixture.broker.url);
    for (const [k, v] of Object.entries({
      client_id: tuned.id,
      redirect_uri: APP_REDIRECT,
      response_type: "id_token token",
      scope: "openid proxy",
      nonce: "n",
      state: "s",
      connector: "gh",
    }))
      url.searchParams.set(k, v);
    const back = await new TestBrowser().navigate(url, { stopAt: (u) => u.href.startsWith(APP_REDIRECT) });
    const response = fragmentOf(back.url);
    assert.equal(lifetime(response.get("access_token")!), 300);
    assert.equal(lifetime(response.get("id_token")!), 900);
  });

  it("defaults: access and ID tokens one hour, refresh tokens thirty days", async () => {
    const tokens = await connectAccount(fixture, defaults, "openid proxy offline_access");
    assert.equal(lifetime(tokens.access_token), 3600);
    assert.equal(lifetime(tokens.id_token!), 3600);
    assert.equal(await refreshTokenLifetime(tokens.refresh_token!), 2_592_000);
  });

  it("lifetimes under 60 s, or over the limits (access a day, refresh 90 days, ID token a year), are refused at registration", async () => {
    for (const input of [
      { accessTokenTtl: 59 },
      { accessTokenTtl: 86_401 },
      { accessTokenTtl: 31_536_000 },
      { refreshTokenTtl: 7_776_001 },
      { idTokenTtl: 0 },
      { idTokenTtl: 31_536_001 },
      { accessTokenTtl: 1.5 },
    ]) {
      await assert.rejects(
        fixture.broker.services.clients.create({ name: "Bad", redirectUris: [APP_REDIRECT], ...input }),
        ValidationFailed,
        JSON.stringify(input),
      );
    }
    const atTheLimits = await fixture.broker.services.clients.create({
      name: "At the limits",
      redirectUris: [APP_REDIRECT],
      accessTokenTtl: 86_400,
      refreshTokenTtl: 7_776_000,
    });
    assert.deepEqual([atTheLimits.client.accessTokenTtl, atTheLimits.client.refreshTokenTtl], [86_400, 7_776_000]);
  });

  it("an app stored with longer lifetimes (registered before the limits) gets tokens cut to a day and 90 days at issue", async () => {
    const legacy = await registerApp(fixture, { name: "Legacy", scopes, grantTypes: ["authorization_code", "refresh_token", "client_credentials"] });
    await fixture.broker.services.db.app.update({ where: { id: legacy.id }, data: { accessTokenTtl: 31_536_000, refreshTokenTtl: 31_536_000 } });
    fixture.broker.services.clients.invalidate(legacy.id);
    const tokens = await connectAccount(fixture, legacy, "openid proxy offline_access");
    assert.equal(tokens.expires_in, 86_400);
    assert.equal(lifetime(tokens.access_token), 86_400);
    assert.equal(await refreshTokenLifetime(tokens.refresh_token!), 7_776_000);
    const refreshed = await client.refreshTokenGrant(legacy.config, tokens.refresh_token!);
    assert.equal(lifetime(refreshed.access_token), 86_400);
    assert.equal(await refreshTokenLifetime(refreshed.refresh_token!), 7_776_000, "each rotated refresh token too");
    assert.equal(lifetime((await client.clientCredentialsGrant(legacy.config, { scope: "proxy" })).access_token), 86_400);
  });
});
