/**
 * `private_key_jwt` client authentication (OIDC Core §9, RFC 7523 §2.2, §3):
 * openid-client's `PrivateKeyJwt` against the real token endpoint for the
 * flows an app runs, and hand-made assertions for every way one must fail —
 * an audience other than the issuer alone (draft-ietf-oauth-rfc7523bis:
 * audience injection), replayed `jti`, expired, too long-lived, signed by
 * another key, `iss` ≠ `sub`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import * as client from "openid-client";
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { TestBrowser } from "../../support/browser.js";
import { APP_REDIRECT, registerApp, startAsFixture, type AsFixture, type FixtureApp } from "../../support/as-fixture.js";
import { CLIENT_ASSERTION_TYPE } from "../../../src/oauth/client-auth.js";
import { ValidationFailed } from "../../../src/errors.js";

interface TokenResponse {
  status: number;
  body: Record<string, unknown>;
}

describe("private_key_jwt client authentication", () => {
  let fixture: AsFixture;
  let app: FixtureApp;
  let privateKey: CryptoKey;
  let otherKey: CryptoKey;
  let publicJwk: JWK;
  let tokenUrl: string;

  before(async () => {
    fixture = await startAsFixture();
    tokenUrl = `${fixture.broker.url}/oauth/token`;
    const pair = await generateKeyPair("ES256", { extractable: true });
    privateKey = pair.privateKey;
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: "app-key-1", alg: "ES256", use: "sig" };
    otherKey = (await generateKeyPair("ES256")).privateKey;
    app = await registerApp(
      fixture,
      {
        tokenEndpointAuthMethod: "private_key_jwt",
        jwks: { keys: [publicJwk] },
        scopes: ["openid", "proxy", "offline_access"],
        grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
      },
      { auth: () => client.PrivateKeyJwt({ key: privateKey, kid: "app-key-1" }) },
    );
  });

  after(async () => {
    await fixture?.close();
  });

  function assertion(claims: Record<string, unknown>, key: CryptoKey = privateKey, alg = "ES256"): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: app.id, sub: app.id, aud: fixture.broker.url, jti: randomUUID(), iat: now, exp: now + 60, ...claims })
      .setProtectedHeader({ alg, kid: "app-key-1" })
      .sign(key);
  }

  async function tokenRequest(signed: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<TokenResponse> {
    const response = await fetch(tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        scope: "proxy",
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: signed,
        ...extra,
      }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  function assertInvalidClient(response: TokenResponse, description: RegExp): void {
    assert.equal(response.status, 401, JSON.stringify(response.body));
    assert.equal(response.body.error, "invalid_client");
    assert.match(String(response.body.error_description), description);
  }

  describe("with openid-client's PrivateKeyJwt", () => {
    it("authenticates a client_credentials grant, with an assertion whose aud is the issuer as a string", async () => {
      const sent: string[] = [];
      const watched = await registerApp(
        fixture,
        { tokenEndpointAuthMethod: "private_key_jwt", jwks: { keys: [publicJwk] }, scopes: ["proxy"], grantTypes: ["client_credentials"] },
        { auth: () => client.PrivateKeyJwt({ key: privateKey, kid: "app-key-1" }) },
      );
      watched.config[client.customFetch] = (url, options) => {
        sent.push(new URLSearchParams(String(options.body)).get("client_assertion") ?? "");
        return fetch(url, options);
      };
      const tokens = await client.clientCredentialsGrant(watched.config, { scope: "proxy" });
      assert.equal(decodeJwt(tokens.access_token).client_id, watched.id);
      assert.equal(decodeJwt(sent[0]!).aud, fixture.broker.url, "what openid-client v6 (oauth4webapi) sends, and all the broker accepts");
    });

    it("authenticates the whole authorization-code flow against a real upstream, and refresh", async () => {
      fixture.github.setUser({ id: 31337, login: "pkj", email: "pkj@example.test", name: "PKJ" });
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const url = client.buildAuthorizationUrl(app.config, {
        redirect_uri: APP_REDIRECT,
        scope: "openid proxy offline_access",
        connector: "gh",
        state,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
      });
      const back = await new TestBrowser().navigate(url, { stopAt: (u) => u.href.startsWith(APP_REDIRECT) });
      const tokens = await client.authorizationCodeGrant(app.config, back.url, { pkceCodeVerifier: verifier, expectedState: state });
      assert.ok(tokens.refresh_token);
      const refreshed = await client.refreshTokenGrant(app.config, tokens.refresh_token!);
      assert.equal(decodeJwt(refreshed.access_token).acct, decodeJwt(tokens.access_token).acct);
    });
  });

  describe("accepted assertions", () => {
    it("aud is the issuer identifier, as a string", async () => {
      assert.equal((await tokenRequest(await assertion({ aud: fixture.broker.url }))).status, 200);
    });
  });

  describe("refused assertions", () => {
    it("a wrong aud is refused", async () => {
      for (const aud of ["https://other.example", `${fixture.broker.url}/oauth/introspect`, `${fixture.broker.url}/`]) {
        assertInvalidClient(await tokenRequest(await assertion({ aud })), /aud must be the issuer identifier/);
      }
    });

    it("an aud naming another party beside the issuer is refused (audience injection)", async () => {
      const injected = await tokenRequest(await assertion({ aud: [fixture.broker.url, "https://evil.example"] }));
      assertInvalidClient(injected, /aud must be the issuer identifier ".*" as a single string, not an array/);
      assertInvalidClient(await tokenRequest(await assertion({ aud: ["https://evil.example", fixture.broker.url] })), /single string/);
    });

    it("the issuer alone in an array is refused too: aud must be a string", async () => {
      assertInvalidClient(await tokenRequest(await assertion({ aud: [fixture.broker.url] })), /as a single string, not an array/);
    });

    it("the token endpoint URL is refused: only the issuer identifier is an audience", async () => {
      assertInvalidClient(await tokenRequest(await assertion({ aud: tokenUrl })), /aud must be the issuer identifier/);
    });

    it("the same rule holds where else a client authenticates: introspection and revocation", async () => {
      for (const path of ["/oauth/introspect", "/oauth/revoke"]) {
        const response = await fetch(`${fixture.broker.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            token: "x",
            client_assertion_type: CLIENT_ASSERTION_TYPE,
            client_assertion: await assertion({ aud: [fixture.broker.url, "https://evil.example"] }),
          }),
        });
        assert.equal(response.status, 401, path);
        assert.equal(((await response.json()) as { error: string }).error, "invalid_client", path);
      }
    });

    it("a replayed jti is refused, even in a new assertion", async () => {
      const jti = randomUUID();
      const signed = await assertion({ jti });
      assert.equal((await tokenRequest(signed)).status, 200);
      assertInvalidClient(await tokenRequest(signed), /already used/);
      assertInvalidClient(await tokenRequest(await assertion({ jti })), /already used/);
    });

    it("an expired assertion is refused", async () => {
      const now = Math.floor(Date.now() / 1000);
      assertInvalidClient(await tokenRequest(await assertion({ iat: now - 600, exp: now - 120 })), /expired/);
    });

    it("an assertion that lives longer than five minutes is refused", async () => {
      const now = Math.floor(Date.now() / 1000);
      assertInvalidClient(await tokenRequest(await assertion({ iat: now, exp: now + 3600 })), /at most 300 seconds/);
      assertInvalidClient(await tokenRequest(await assertion({ iat: undefined, exp: now + 3600 })), /at most 300 seconds/);
    });

    it("an assertion without exp or jti is refused", async () => {
      assertInvalidClient(await tokenRequest(await assertion({ exp: undefined })), /exp/);
      assertInvalidClient(await tokenRequest(await assertion({ jti: undefined })), /jti/);
    });

    it("an assertion signed by a key the app did not register is refused", async () => {
      assertInvalidClient(await tokenRequest(await assertion({}, otherKey)), /no key/);
    });

    it("iss must equal sub", async () => {
      const other = await fixture.broker.services.clients.create({ name: "Other", redirectUris: [APP_REDIRECT] });
      assertInvalidClient(await tokenRequest(await assertion({ iss: other.client.id })), /iss and sub/);
    });

    it("a client_id other than the assertion's sub is refused", async () => {
      const response = await tokenRequest(await assertion({}), { client_id: "app_someone_else" });
      assert.equal(response.status, 400);
      assert.equal(response.body.error, "invalid_request");
    });

    it("a wrong client_assertion_type is refused", async () => {
      const response = await tokenRequest(await assertion({}), { client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:saml2-bearer" });
      assert.equal(response.body.error, "invalid_request");
    });

    it("an assertion together with a client secret is two methods at once, refused", async () => {
      const response = await tokenRequest(await assertion({}), {}, { authorization: `Basic ${Buffer.from(`${app.id}:x`).toString("base64")}` });
      assert.equal(response.body.error, "invalid_request");
      assert.match(String(response.body.error_description), /more than one/);
    });

    it("a client registered for a secret cannot authenticate with an assertion, nor this one with a secret", async () => {
      const secretApp = await fixture.broker.services.clients.create({ name: "Secret app", redirectUris: [APP_REDIRECT], scopes: ["proxy"] });
      const now = Math.floor(Date.now() / 1000);
      const foreign = await new SignJWT({ iss: secretApp.client.id, sub: secretApp.client.id, aud: fixture.broker.url, jti: randomUUID(), exp: now + 60 })
        .setProtectedHeader({ alg: "ES256" })
        .sign(privateKey);
      assertInvalidClient(await tokenRequest(foreign), /registered for client_secret_basic/);
      const response = await fetch(tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "client_credentials", client_id: app.id, client_secret: "guess" }),
      });
      assert.equal(response.status, 401);
      assert.match(((await response.json()) as { error_description: string }).error_description, /registered for private_key_jwt/);
    });
  });

  describe("registration", () => {
    it("a JWKS with private key material or a symmetric key is refused", async () => {
      const pair = await generateKeyPair("ES256", { extractable: true });
      const privateJwk = await exportJWK(pair.privateKey);
      for (const jwks of [{ keys: [privateJwk] }, { keys: [{ kty: "oct", k: "c2VjcmV0" }] }, { keys: [] }, [publicJwk]]) {
        await assert.rejects(
          fixture.broker.services.clients.create({ name: "Bad JWKS", redirectUris: [APP_REDIRECT], tokenEndpointAuthMethod: "private_key_jwt", jwks }),
          ValidationFailed,
        );
      }
      await assert.rejects(
        fixture.broker.services.clients.create({ name: "No JWKS", redirectUris: [APP_REDIRECT], tokenEndpointAuthMethod: "private_key_jwt" }),
        ValidationFailed,
      );
    });
  });
});
