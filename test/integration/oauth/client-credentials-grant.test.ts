/**
 * The client_credentials grant (RFC 6749 §4.4): a token of the app itself,
 * for confidential clients only, scoped to what the app is registered for.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeJwt, decodeProtectedHeader } from "jose";
import * as oidc from "openid-client";
import { brokerApp } from "../../../src/main.js";
import { listen, type RunningServer } from "../../../src/http/server.js";
import { verifyAccessToken } from "../../../src/oauth/tokens.js";
import { createTestServices, type TestServices } from "../../support/services.js";
import { handle as clientCredentials } from "../../../src/oauth/grants/client-credentials.js";
import { UnauthorizedClient } from "../../../src/errors.js";
import { freePort } from "../../support/ports.js";

describe("client_credentials grant", () => {
  let services: TestServices;
  let server: RunningServer;
  let issuer: string;
  let appId: string;
  let config: oidc.Configuration;

  before(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    services = await createTestServices({ BROKER_ISSUER: issuer });
    await services.signingKeys.ensureCurrent();
    server = await listen(brokerApp(services), port, "127.0.0.1");
    const { client, secret } = await services.clients.create({
      name: "Backend",
      redirectUris: [],
      grantTypes: ["client_credentials"],
      scopes: ["openid", "offline_access", "proxy", "accounts:read", "acme:files.read"],
      accessTokenTtl: 900,
    });
    appId = client.id;
    config = await oidc.discovery(new URL(issuer), appId, undefined, oidc.ClientSecretBasic(secret!), { execute: [oidc.allowInsecureRequests] });
  });

  after(async () => {
    await server?.close(0);
    await services?.teardown();
  });

  it("issues an at+jwt whose subject is the client, with the client's lifetime and no refresh token", async () => {
    const tokens = await oidc.clientCredentialsGrant(config, { scope: "proxy accounts:read" });
    assert.equal(decodeProtectedHeader(tokens.access_token).typ, "at+jwt");
    const claims = decodeJwt(tokens.access_token);
    assert.equal(claims.sub, appId);
    assert.equal(claims.client_id, appId);
    assert.equal(claims.iss, issuer);
    assert.equal(claims.aud, issuer);
    assert.equal(claims.scope, "proxy accounts:read");
    assert.equal(claims.acct, undefined);
    assert.equal(claims.connector, undefined);
    assert.equal(claims.gid, undefined);
    assert.equal(claims.exp! - claims.iat!, 900);
    assert.equal(tokens.expires_in, 900);
    assert.equal(tokens.refresh_token, undefined);
    assert.equal(tokens.id_token, undefined);
    assert.equal((await verifyAccessToken(services, tokens.access_token, "broker")).sub, appId);
  });

  it("without scope, grants the client's registered scopes that need no end user", async () => {
    const tokens = await oidc.clientCredentialsGrant(config);
    assert.equal(tokens.scope, "proxy accounts:read acme:files.read");
  });

  it("a scope the client is not registered for is invalid_scope", async () => {
    await assert.rejects(
      oidc.clientCredentialsGrant(config, { scope: "proxy tokens:read" }),
      (err: oidc.ResponseBodyError) => err.error === "invalid_scope" && err.error_description === 'the app is not registered for scope "tokens:read"',
    );
  });

  it("every end-user scope (openid, profile, email, offline_access) is left out by default and refused when asked for", async () => {
    const { client, secret } = await services.clients.create({
      name: "Backend with identity scopes",
      redirectUris: [],
      grantTypes: ["client_credentials"],
      scopes: ["openid", "profile", "email", "offline_access", "proxy"],
    });
    const identity = await oidc.discovery(new URL(issuer), client.id, undefined, oidc.ClientSecretBasic(secret!), { execute: [oidc.allowInsecureRequests] });
    assert.equal((await oidc.clientCredentialsGrant(identity)).scope, "proxy");
    for (const scope of ["openid", "profile", "email", "offline_access"]) {
      await assert.rejects(
        oidc.clientCredentialsGrant(identity, { scope: `proxy ${scope}` }),
        (err: oidc.ResponseBodyError) =>
          err.error === "invalid_scope" && err.error_description === `scope "${scope}" needs an end user and cannot be granted to the app itself`,
        scope,
      );
    }
  });

  it("end-user scopes (openid, offline_access) are invalid_scope", async () => {
    await assert.rejects(oidc.clientCredentialsGrant(config, { scope: "openid" }), (err: oidc.ResponseBodyError) => err.error === "invalid_scope");
    await assert.rejects(
      oidc.clientCredentialsGrant(config, { scope: "proxy offline_access" }),
      (err: oidc.ResponseBodyError) => err.error === "invalid_scope",
    );
  });
  it("a public client never gets a token of its own, even from a row that lists the grant (registration never writes one)", async () => {
    const { client } = await services.clients.create({ name: "Public", redirectUris: ["https://app.example/cb"], isPublic: true });
    const listed = { ...client, grantTypes: [...client.grantTypes, "client_credentials"] };
    await assert.rejects(
      clientCredentials({ services, client: listed, authMethod: "none", params: new Map(), requestId: undefined }),
      (err: Error) => err instanceof UnauthorizedClient && err.message === "public clients cannot use client_credentials",
    );
  });
});
