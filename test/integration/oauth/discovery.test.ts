/**
 * Discovery (OIDC Discovery 1.0, RFC 8414) and the JWKS (RFC 7517): apps find
 * every endpoint and key there, and nothing is advertised that is not
 * implemented; the JWKS verifies the broker's tokens and carries no private
 * key material.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createLocalJWKSet, createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, type JWK } from "jose";
import * as oidc from "openid-client";
import { brokerApp } from "../../../src/main.js";
import { listen, type RunningServer } from "../../../src/http/server.js";
import { publicJwk } from "../../../src/oauth/jwks.js";
import { issueAccessToken, issueIdToken } from "../../../src/oauth/tokens.js";
import { createTestServices, type TestServices } from "../../support/services.js";
import { freePort } from "../../support/ports.js";

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"];

describe("discovery and JWKS", () => {
  let services: TestServices;
  let server: RunningServer;
  let issuer: string;

  before(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    services = await createTestServices({ BROKER_ISSUER: issuer });
    await services.signingKeys.ensureCurrent();
    server = await listen(brokerApp(services), port, "127.0.0.1");
  });

  after(async () => {
    await server?.close(0);
    await services?.teardown();
  });

  async function getJson(path: string) {
    const response = await fetch(`${issuer}${path}`);
    return { response, body: (await response.json()) as Record<string, unknown> };
  }

  describe("discovery documents", () => {
    it("/.well-known/openid-configuration lists exactly what the broker supports now", async () => {
      const { response, body } = await getJson("/.well-known/openid-configuration");
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("access-control-allow-origin"), "*");
      assert.match(response.headers.get("cache-control") ?? "", /max-age=\d+/);
      assert.equal(body.issuer, issuer);
      assert.equal(body.authorization_endpoint, `${issuer}/oauth/authorize`);
      assert.equal(body.token_endpoint, `${issuer}/oauth/token`);
      assert.equal(body.jwks_uri, `${issuer}/oauth/jwks`);
      assert.equal(body.userinfo_endpoint, `${issuer}/oauth/userinfo`);
      assert.equal(body.introspection_endpoint, `${issuer}/oauth/introspect`);
      assert.equal(body.revocation_endpoint, `${issuer}/oauth/revoke`);
      assert.equal(body.device_authorization_endpoint, `${issuer}/oauth/device_authorization`);
      assert.deepEqual(
        body.introspection_endpoint_auth_methods_supported,
        ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "no public client introspects",
      );
      assert.deepEqual(body.revocation_endpoint_auth_methods_supported, ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]);
      assert.deepEqual(body.response_types_supported, ["code", "token", "id_token", "id_token token", "code id_token", "code token", "code id_token token"]);
      assert.deepEqual(body.response_modes_supported, ["query", "fragment", "form_post", "web_message"]);
      assert.deepEqual(body.grant_types_supported, [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:token-exchange",
      ]);
      assert.deepEqual(body.code_challenge_methods_supported, ["S256"]);
      assert.deepEqual(body.token_endpoint_auth_methods_supported, ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]);
      assert.ok((body.token_endpoint_auth_signing_alg_values_supported as string[]).includes("ES256"));
      assert.ok(
        !(body.token_endpoint_auth_signing_alg_values_supported as string[]).some((alg) => alg === "none" || alg.startsWith("HS")),
        "asymmetric algorithms only",
      );
      assert.deepEqual(body.subject_types_supported, ["public"]);
      assert.deepEqual(body.id_token_signing_alg_values_supported, ["ES256"]);
      assert.equal(body.authorization_response_iss_parameter_supported, true);
      for (const scope of ["openid", "profile", "email", "offline_access", "proxy", "accounts:read", "accounts:write", "tokens:read"])
        assert.ok((body.scopes_supported as string[]).includes(scope), scope);
      for (const claim of ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified", "name", "connector", "upstream_host"])
        assert.ok((body.claims_supported as string[]).includes(claim), claim);
    });

    it("/.well-known/oauth-authorization-server is the same document (RFC 8414)", async () => {
      const a = await getJson("/.well-known/openid-configuration");
      const b = await getJson("/.well-known/oauth-authorization-server");
      assert.equal(b.response.status, 200);
      assert.equal(b.response.headers.get("access-control-allow-origin"), "*");
      assert.deepEqual(b.body, a.body);
    });

    it("openid-client discovers the broker and reaches its token endpoint from there", async () => {
      const { client, secret } = await services.clients.create({ name: "Discover", redirectUris: [], grantTypes: ["client_credentials"], scopes: ["proxy"] });
      const config = await oidc.discovery(new URL(issuer), client.id, undefined, oidc.ClientSecretBasic(secret!), { execute: [oidc.allowInsecureRequests] });
      assert.equal(config.serverMetadata().issuer, issuer);
      const tokens = await oidc.clientCredentialsGrant(config, { scope: "proxy" });
      assert.equal(tokens.scope, "proxy");
    });
  });

  describe("JWKS", () => {
    it("serves the public key that verifies access and ID tokens, and no private member", async () => {
      const { response, body } = await getJson("/oauth/jwks");
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("cache-control"), "public, max-age=300");
      assert.equal(response.headers.get("access-control-allow-origin"), "*");
      const keys = body.keys as JWK[];
      const current = await services.signingKeys.current();
      assert.ok(keys.some((k) => k.kid === current.kid));
      for (const key of keys)
        for (const member of PRIVATE_MEMBERS) assert.equal((key as Record<string, unknown>)[member], undefined, `${member} leaked in the JWKS`);
      const client = { id: "app_jwks", accessTokenTtl: 60, idTokenTtl: 60 };
      const { accessToken } = await issueAccessToken(services, { client, subject: "app_jwks", scope: "proxy" });
      const idToken = await issueIdToken(services, { client, account: { id: "acc_1", connectorId: "acme", hostname: "", profile: {} }, scope: "openid" });
      const jwks = createLocalJWKSet({ keys });
      await jwtVerify(accessToken, jwks, { issuer, audience: issuer, typ: "at+jwt" });
      await jwtVerify(idToken, jwks, { issuer, audience: "app_jwks" });
    });

    it("after a key rotation, serves the new key and the previous one, so older tokens still verify", async () => {
      const client = { id: "app_rot", accessTokenTtl: 60, idTokenTtl: 60 };
      const before = await issueAccessToken(services, { client, subject: "app_rot", scope: "proxy" });
      const { kid, previousKid } = await services.signingKeys.rotate(3600);
      const after = await issueAccessToken(services, { client, subject: "app_rot", scope: "proxy" });
      const { body } = await getJson("/oauth/jwks");
      const kids = (body.keys as JWK[]).map((k) => k.kid);
      assert.ok(kids.includes(kid));
      assert.ok(previousKid && kids.includes(previousKid));
      const jwks = createRemoteJWKSet(new URL(`${issuer}/oauth/jwks`));
      await jwtVerify(before.accessToken, jwks, { issuer, typ: "at+jwt" });
      await jwtVerify(after.accessToken, jwks, { issuer, typ: "at+jwt" });
    });

    it("publicJwk keeps only public members of any key it is given", async () => {
      const { privateKey } = await generateKeyPair("ES256", { extractable: true });
      const leaked = publicJwk({ ...(await exportJWK(privateKey)), kid: "k1", alg: "ES256" });
      assert.ok(leaked);
      assert.deepEqual(Object.keys(leaked).sort(), ["alg", "crv", "kid", "kty", "x", "y"]);
      const rsa = await generateKeyPair("RS256", { extractable: true });
      const rsaPublic = publicJwk(await exportJWK(rsa.privateKey))!;
      assert.deepEqual(Object.keys(rsaPublic).sort(), ["e", "kty", "n"]);
      assert.equal(publicJwk({ kty: "oct", k: "c2VjcmV0" }), undefined, "symmetric keys are never published");
    });
  });
});
