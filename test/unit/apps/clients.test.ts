/**
 * The pure rules of apps (src/apps/clients.ts): which client authentication
 * methods an app accepts, how its name is shown, when PKCE is required,
 * which redirect URIs may be registered and which presented ones match, which
 * JWK Sets may be registered, and what of an app is ever shown.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import {
  acceptedAuthMethods,
  appDisplayName,
  appView,
  checkClientJwks,
  checkRedirectUri,
  checkRedirectUriFor,
  isHttpLocalhost,
  isLoopbackHost,
  isRegisteredFor,
  loopbackInsteadOf,
  redirectUriMatches,
  requiresPkce,
  toClient,
  type AppRow,
} from "../../../src/apps/clients.js";
import { ValidationFailed } from "../../../src/errors.js";

describe("acceptedAuthMethods", () => {
  it("a secret app registered with defaults takes either secret method; named explicitly, only that one; other methods only themselves", () => {
    assert.deepEqual(acceptedAuthMethods("client_secret_basic", false), ["client_secret_basic", "client_secret_post"]);
    assert.deepEqual(acceptedAuthMethods("client_secret_post", false), ["client_secret_basic", "client_secret_post"]);
    assert.deepEqual(acceptedAuthMethods("client_secret_basic", true), ["client_secret_basic"]);
    assert.deepEqual(acceptedAuthMethods("client_secret_post", true), ["client_secret_post"]);
    assert.deepEqual(acceptedAuthMethods("private_key_jwt", false), ["private_key_jwt"]);
    assert.deepEqual(acceptedAuthMethods("none", false), ["none"]);
  });
});

describe("appDisplayName", () => {
  it("an operator's app by its name; a metadata-document app by its self-asserted name beside the host that serves it", () => {
    assert.equal(appDisplayName({ name: "Mail", registration: "cli", id: "app_x" }), "Mail");
    assert.equal(appDisplayName({ name: "Mail", registration: "dynamic", id: "app_x" }), "Mail");
    assert.equal(appDisplayName({ name: "Mail", registration: "metadata_document", id: "https://mail.example:8443/client.json" }), "Mail (mail.example:8443)");
    assert.equal(appDisplayName({ name: "mail.example", registration: "metadata_document", id: "https://mail.example/client.json" }), "mail.example");
  });
});

describe("requiresPkce and isRegisteredFor", () => {
  it("PKCE unless a confidential app opted out", () => {
    assert.equal(requiresPkce({ isPublic: true, requirePkce: false }), true);
    assert.equal(requiresPkce({ isPublic: false, requirePkce: true }), true);
    assert.equal(requiresPkce({ isPublic: false, requirePkce: false }), false);
  });
  it("a grant is the app's when its list names it", () => {
    assert.equal(isRegisteredFor({ grantTypes: ["refresh_token", "client_credentials"] }, "client_credentials"), true);
    assert.equal(isRegisteredFor({ grantTypes: ["refresh_token"] }, "client_credentials"), false);
  });
});

describe("redirect URIs", () => {
  it("isHttpLocalhost: http and the name localhost, in any case; not https, not an IP, not a non-URL", () => {
    assert.equal(isHttpLocalhost("http://localhost:8080/cb"), true);
    assert.equal(isHttpLocalhost("http://LocalHost/cb"), true);
    assert.equal(isHttpLocalhost("https://localhost/cb"), false);
    assert.equal(isHttpLocalhost("http://127.0.0.1/cb"), false);
    assert.equal(isHttpLocalhost("http://localhost.example/cb"), false);
    assert.equal(isHttpLocalhost("not a uri"), false);
  });

  it("loopbackInsteadOf keeps everything but the host", () => {
    assert.equal(loopbackInsteadOf("http://localhost:8080/cb?x=1"), "http://127.0.0.1:8080/cb?x=1");
  });

  it("isLoopbackHost: 127.0.0.0/8 and [::1] as URL hosts, nothing that only starts or ends like one", () => {
    for (const host of ["127.0.0.1", "127.1.22.255", "127.10.200.3", "[::1]"]) assert.equal(isLoopbackHost(host), true, host);
    for (const host of ["localhost", "::1", "127.0.0.1.example.com", "x127.0.0.1", "127.0.0", "128.0.0.1", "127.a.0.1"])
      assert.equal(isLoopbackHost(host), false, host);
  });

  it("checkRedirectUri: absolute, no fragment, no localhost, https unless loopback, no script or data scheme", () => {
    for (const uri of ["https://app.example/cb", "http://127.0.0.1:3000/cb", "http://127.9.9.9/cb", "http://[::1]/cb", "com.example.app:/cb"])
      assert.equal(checkRedirectUri(uri), undefined, uri);
    for (const [uri, problem] of [
      ["/cb", '"/cb" is not an absolute URI'],
      ["https://app.example/cb#x", '"https://app.example/cb#x" must not contain a fragment'],
      ["https://app.example/cb#", '"https://app.example/cb#" must not contain a fragment'],
      ["http://localhost:3000/cb", '"http://localhost:3000/cb" names localhost: use the loopback IP literal, http://127.0.0.1:3000/cb (RFC 8252 §8.3)'],
      ["http://app.example/cb", '"http://app.example/cb" must use https (http is only allowed for loopback addresses such as 127.0.0.1)'],
      ["javascript:alert(1)", '"javascript:alert(1)" uses a forbidden scheme'],
      ["data:text/html,hi", '"data:text/html,hi" uses a forbidden scheme'],
    ] as const)
      assert.equal(checkRedirectUri(uri), problem, uri);
  });

  it("checkRedirectUriFor: a web application only https; a native one also loopback and custom schemes; the general rules first", () => {
    assert.equal(checkRedirectUriFor("web", "https://app.example/cb"), undefined);
    for (const uri of ["http://127.0.0.1/cb", "com.example.app:/cb"])
      assert.equal(
        checkRedirectUriFor("web", uri),
        `"${uri}" must use https for a web application; loopback and custom-scheme redirect URIs need application_type "native"`,
      );
    for (const uri of ["http://127.0.0.1/cb", "com.example.app:/cb", "https://app.example/cb"]) assert.equal(checkRedirectUriFor("native", uri), undefined);
    assert.equal(checkRedirectUriFor("native", "http://app.example/cb"), checkRedirectUri("http://app.example/cb"));
    assert.equal(checkRedirectUriFor("web", "/cb"), '"/cb" is not an absolute URI');
  });

  it("redirectUriMatches: exactly, except the port of an http loopback URI", () => {
    const registered = ["https://app.example/cb", "http://127.0.0.1/cb", "http://[::1]:9000/cb", "not a uri"];
    assert.equal(redirectUriMatches(registered, "https://app.example/cb"), true);
    assert.equal(redirectUriMatches(registered, "not a uri"), true, "an exact match needs no parsing");
    assert.equal(redirectUriMatches(registered, "http://127.0.0.1:51000/cb"), true);
    assert.equal(redirectUriMatches(registered, "http://[::1]:51000/cb"), true);
    assert.equal(redirectUriMatches(registered, "http://[::1]/cb"), true);
    for (const presented of [
      "https://app.example:8443/cb",
      "https://app.example/cb/",
      "http://127.0.0.1:51000/other",
      "http://127.0.0.1:51000/cb?x=1",
      "http://127.0.0.2:51000/cb",
      "https://127.0.0.1:51000/cb",
      "other uri",
    ])
      assert.equal(redirectUriMatches(registered, presented), false, presented);
    // Only loopback addresses: an http URI on another host (registered before https was required) matches exactly or not at all.
    assert.equal(redirectUriMatches(["http://app.example/cb"], "http://app.example:9999/cb"), false);
    // Registered over https on a loopback address: the port is not free.
    assert.equal(redirectUriMatches(["https://127.0.0.1/cb"], "http://127.0.0.1:51000/cb"), false);
    assert.equal(redirectUriMatches(["not a uri", "http://127.0.0.1/cb"], "http://127.0.0.1:8/cb"), true, "an entry that is not a URI is skipped");
  });
});

describe("checkClientJwks", () => {
  const refusedWith = (jwks: unknown) => {
    try {
      checkClientJwks(jwks);
    } catch (err) {
      assert.ok(err instanceof ValidationFailed, String(err));
      return err.description;
    }
    return undefined;
  };

  const publicJwk = (type: "rsa" | "ec" | "ed25519") =>
    generateKeyPairSync(
      type as "ec",
      type === "ec" ? { namedCurve: "P-256" } : type === "rsa" ? ({ modulusLength: 2048 } as never) : ({} as never),
    ).publicKey.export({
      format: "jwk",
    });

  it("a JWK Set of public RSA, EC and OKP keys", () => {
    assert.equal(refusedWith({ keys: [publicJwk("rsa"), publicJwk("ec"), publicJwk("ed25519")] }), undefined);
  });

  it("refuses a key of the right shape whose values make no key, naming it", () => {
    const ec = publicJwk("ec");
    const usable = "is not a usable public key: its crv, x, y, n or e do not make one";
    assert.equal(refusedWith({ keys: [ec, { ...ec, x: ec.x!.slice(0, -2) }] }), `jwks key 2 ${usable}`);
    assert.equal(refusedWith({ keys: [{ kty: "EC", crv: "P-256", x: "x", y: "y" }] }), `jwks key 1 ${usable}`);
    assert.equal(refusedWith({ keys: [{ ...ec, crv: "P-999" }] }), `jwks key 1 ${usable}`);
    assert.equal(refusedWith({ keys: [{ kty: "RSA", n: "x", e: "AQAB" }] }), "jwks key 1: an RSA key must be 2048 bits or longer");
    const short = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" });
    assert.equal(refusedWith({ keys: [publicJwk("rsa"), short] }), "jwks key 2: an RSA key must be 2048 bits or longer");
  });

  it("refuses what is not a set of keys, a key that is not an object or not asymmetric, and every private member, naming the key", () => {
    const notASet = 'jwks must be a JWK Set: { "keys": [ ... ] } with at least one key';
    for (const jwks of [null, "keys", [{ kty: "EC" }], {}, { keys: {} }, { keys: [] }]) assert.equal(refusedWith(jwks), notASet, JSON.stringify(jwks));
    const ec = publicJwk("ec");
    assert.equal(refusedWith({ keys: [ec, null] }), "jwks key 2 is not a JWK");
    assert.equal(refusedWith({ keys: ["EC"] }), "jwks key 1 is not a JWK");
    assert.equal(refusedWith({ keys: [ec, { kty: "oct", k: "c2VjcmV0" }] }), "jwks key 2: kty must be RSA, EC or OKP (public keys only)");
    assert.equal(refusedWith({ keys: [{ crv: "P-256" }] }), "jwks key 1: kty must be RSA, EC or OKP (public keys only)");
    for (const member of ["d", "p", "q", "dp", "dq", "qi", "oth", "k"])
      assert.equal(
        refusedWith({ keys: [ec, { kty: "RSA", n: "x", e: "AQAB", [member]: "x" }] }),
        `jwks key 2 contains private key material ("${member}"): register the public key only`,
      );
  });
});

describe("toClient and appView", () => {
  const row: AppRow = {
    id: "app_1",
    name: "One",
    isPublic: false,
    secretHash: "a".repeat(64),
    previousSecretHash: "b".repeat(64),
    previousSecretExpiresAt: new Date("2026-12-08T00:00:00.000Z"),
    tokenEndpointAuthMethod: "client_secret_post",
    authMethodNarrowed: false,
    redirectUris: ["https://app.example/cb"],
    grantTypes: ["authorization_code"],
    responseTypes: ["code"],
    scopes: ["openid"],
    connectors: ["github"],
    accessTokenTtl: 600,
    refreshTokenTtl: 6000,
    idTokenTtl: 300,
    jwks: null,
    allowUpstreamTokens: true,
    webhookUrl: "https://app.example/hook",
    requirePkce: false,
    registration: "cli",
    registrationHash: null,
    sealedWebhookSecret: "sealed",
    createdAt: new Date(),
    updatedAt: new Date(),
  };

  it("toClient leaves out the sealed webhook secret, the dates and the narrowing flag, and says which methods are accepted", () => {
    const client = toClient(row);
    const { sealedWebhookSecret: _s, createdAt: _c, updatedAt: _u, authMethodNarrowed: _n, ...rest } = row;
    assert.deepEqual(client, {
      ...rest,
      tokenEndpointAuthMethod: "client_secret_post",
      tokenEndpointAuthMethods: ["client_secret_basic", "client_secret_post"],
    });
    assert.deepEqual(toClient({ ...row, authMethodNarrowed: true }).tokenEndpointAuthMethods, ["client_secret_post"]);
  });

  it("appView shows the allowlisted fields, never a hash", () => {
    assert.deepEqual(appView(toClient(row)), {
      client_id: "app_1",
      name: "One",
      type: "confidential",
      token_endpoint_auth_method: "client_secret_post",
      token_endpoint_auth_methods: ["client_secret_basic", "client_secret_post"],
      previous_secret_expires_at: "2026-12-08T00:00:00.000Z",
      redirect_uris: ["https://app.example/cb"],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      scopes: ["openid"],
      connectors: ["github"],
      access_token_ttl: 600,
      refresh_token_ttl: 6000,
      id_token_ttl: 300,
      allow_upstream_tokens: true,
      webhook_url: "https://app.example/hook",
      require_pkce: false,
      registration: "cli",
    });
    const publicView = appView(toClient({ ...row, isPublic: true, previousSecretExpiresAt: null, requirePkce: false }));
    assert.deepEqual([publicView.type, publicView.previous_secret_expires_at, publicView.require_pkce], ["public", null, true]);
  });
});
