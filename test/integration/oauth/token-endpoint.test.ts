/**
 * The token endpoint as a whole (RFC 6749 §2.3, §3.2, §5): client
 * authentication, which grants a client may use, the request format, the
 * response headers and the exact error shape. Runs the real endpoint on
 * 127.0.0.1 against a real database and Redis; openid-client v6 plays the app
 * where a well-behaved app is wanted, raw fetch where a broken one is.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as oidc from "openid-client";
import { brokerApp } from "../../../src/main.js";
import { listen, type RunningServer } from "../../../src/http/server.js";
import { hashSecret } from "../../../src/crypto/secrets.js";
import { createTestServices, type TestServices } from "../../support/services.js";
import { freePort } from "../../support/ports.js";

interface RawResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

const REDIRECT = "https://app.example.test/callback";

describe("token endpoint", () => {
  let services: TestServices;
  let server: RunningServer;
  let issuer: string;
  let tokenUrl: string;
  const insecure = { execute: [oidc.allowInsecureRequests] };
  let confidential: { id: string; secret: string };
  let postApp: { id: string; secret: string };
  let basicOnlyApp: { id: string; secret: string };
  let publicApp: { id: string };
  let noCredentialsApp: { id: string; secret: string };

  before(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    services = await createTestServices({ BROKER_ISSUER: issuer });
    await services.signingKeys.ensureCurrent();
    server = await listen(brokerApp(services), port, "127.0.0.1");
    tokenUrl = `${issuer}/oauth/token`;
    const a = await services.clients.create({ name: "Basic app", redirectUris: [REDIRECT], scopes: ["openid", "proxy", "accounts:read", "offline_access"] });
    confidential = { id: a.client.id, secret: a.secret! };
    const b = await services.clients.create({ name: "Post app", redirectUris: [REDIRECT], tokenEndpointAuthMethod: "client_secret_post", scopes: ["proxy"] });
    postApp = { id: b.client.id, secret: b.secret! };
    const narrowed = await services.clients.create({
      name: "Basic only",
      redirectUris: [REDIRECT],
      tokenEndpointAuthMethod: "client_secret_basic",
      scopes: ["proxy"],
    });
    basicOnlyApp = { id: narrowed.client.id, secret: narrowed.secret! };
    const c = await services.clients.create({ name: "SPA", redirectUris: [REDIRECT], isPublic: true, scopes: ["openid", "proxy"] });
    publicApp = { id: c.client.id };
    const d = await services.clients.create({ name: "Code only", redirectUris: [REDIRECT], grantTypes: ["authorization_code"], scopes: ["proxy"] });
    noCredentialsApp = { id: d.client.id, secret: d.secret! };
  });

  after(async () => {
    await server?.close(0);
    await services?.teardown();
  });

  function basic(id: string, secret: string): string {
    return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;
  }

  async function post(body: string | Record<string, string>, headers: Record<string, string> = {}): Promise<RawResponse> {
    const response = await fetch(tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: typeof body === "string" ? body : new URLSearchParams(body).toString(),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  /** RFC 6749 §5.2: exactly `error` and `error_description`, never cached. */
  function assertOAuthError(response: RawResponse, status: number, error: string): void {
    assert.equal(response.status, status, JSON.stringify(response.body));
    assert.deepEqual(Object.keys(response.body).sort(), ["error", "error_description"]);
    assert.equal(response.body.error, error);
    assert.equal(typeof response.body.error_description, "string");
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.equal(response.headers.get("pragma"), "no-cache");
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  }

  async function configFor(id: string, auth: oidc.ClientAuth): Promise<oidc.Configuration> {
    return oidc.discovery(new URL(issuer), id, undefined, auth, insecure);
  }

  describe("client authentication (RFC 6749 §2.3)", () => {
    it("client_secret_basic: a client registered for it gets a token through openid-client", async () => {
      const tokens = await oidc.clientCredentialsGrant(await configFor(confidential.id, oidc.ClientSecretBasic(confidential.secret)), { scope: "proxy" });
      assert.equal(tokens.token_type.toLowerCase(), "bearer");
      assert.equal(tokens.scope, "proxy");
    });

    it("client_secret_basic: id and secret are form-urlencoded inside Basic and decoded", async () => {
      // A made-up client whose id and secret need encoding: ":" and "+" and " ".
      const id = "app_enc:od+ed x";
      const secret = "s3cr:t+with space%";
      await services.db.app.create({
        data: {
          id,
          name: "Encoded",
          secretHash: hashSecret(secret),
          tokenEndpointAuthMethod: "client_secret_basic",
          redirectUris: [],
          grantTypes: ["client_credentials"],
          responseTypes: [],
          scopes: ["proxy"],
        },
      });
      const form = (v: string) => new URLSearchParams({ v }).toString().slice(2);
      const header = `Basic ${Buffer.from(`${form(id)}:${form(secret)}`).toString("base64")}`;
      const ok = await post({ grant_type: "client_credentials" }, { authorization: header });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const raw = `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
      const refused = await post({ grant_type: "client_credentials" }, { authorization: raw });
      assert.notEqual(refused.status, 200, "undecoded credentials are not the same credentials");
    });

    it("client_secret_post: a client registered for it gets a token", async () => {
      const tokens = await oidc.clientCredentialsGrant(await configFor(postApp.id, oidc.ClientSecretPost(postApp.secret)), { scope: "proxy" });
      assert.equal(tokens.scope, "proxy");
    });

    it("an app registered with defaults takes its secret in the Authorization header or in the form body", async () => {
      const viaBasic = await oidc.clientCredentialsGrant(await configFor(confidential.id, oidc.ClientSecretBasic(confidential.secret)), { scope: "proxy" });
      const viaPost = await oidc.clientCredentialsGrant(await configFor(confidential.id, oidc.ClientSecretPost(confidential.secret)), { scope: "proxy" });
      assert.equal(viaBasic.scope, "proxy");
      assert.equal(viaPost.scope, "proxy");
      const raw = await post({ grant_type: "client_credentials", client_id: confidential.id, client_secret: confidential.secret, scope: "proxy" });
      assert.equal(raw.status, 200, JSON.stringify(raw.body));
      // A wrong secret in the body is refused like one in the header, without a Basic challenge.
      const wrong = await post({ grant_type: "client_credentials", client_id: confidential.id, client_secret: "abs_wrong" });
      assertOAuthError(wrong, 401, "invalid_client");
      assert.equal(wrong.headers.get("www-authenticate"), null);
    });

    it("a wrong secret is invalid_client (401) with a Basic challenge when Basic was used", async () => {
      const response = await post({ grant_type: "client_credentials" }, { authorization: basic(confidential.id, "abs_wrong") });
      assertOAuthError(response, 401, "invalid_client");
      assert.match(response.headers.get("www-authenticate") ?? "", /^Basic /);
      // openid-client surfaces the challenge first; the body still says invalid_client.
      const challenged = await oidc.clientCredentialsGrant(await configFor(confidential.id, oidc.ClientSecretBasic("abs_wrong")), { scope: "proxy" }).then(
        () => assert.fail("a wrong secret was accepted"),
        (err: unknown) => err,
      );
      assert.ok(challenged instanceof oidc.WWWAuthenticateChallengeError);
      assert.equal(challenged.status, 401);
      assert.equal(challenged.cause[0]?.scheme, "basic");
      assert.equal(((await challenged.response.json()) as { error: string }).error, "invalid_client");
    });

    it("a wrong secret in the body is invalid_client without a Basic challenge", async () => {
      const response = await post({ grant_type: "client_credentials", client_id: postApp.id, client_secret: "abs_wrong" });
      assertOAuthError(response, 401, "invalid_client");
      assert.equal(response.headers.get("www-authenticate"), null);
    });

    it("an unknown client is invalid_client", async () => {
      assertOAuthError(await post({ grant_type: "client_credentials" }, { authorization: basic("app_nobody", "abs_x") }), 401, "invalid_client");
      assertOAuthError(await post({ grant_type: "client_credentials", client_id: "app_nobody", client_secret: "abs_x" }), 401, "invalid_client");
      assertOAuthError(await post({ grant_type: "authorization_code", code: "x", client_id: "app_nobody" }), 401, "invalid_client");
    });

    it("no client credentials at all is invalid_client", async () => {
      assertOAuthError(await post({ grant_type: "client_credentials" }), 401, "invalid_client");
    });

    it("two authentication methods in one request are invalid_request", async () => {
      const response = await post(
        { grant_type: "client_credentials", client_id: confidential.id, client_secret: confidential.secret },
        { authorization: basic(confidential.id, confidential.secret) },
      );
      assertOAuthError(response, 400, "invalid_request");
      const withAssertion = await post({
        grant_type: "client_credentials",
        client_id: postApp.id,
        client_secret: postApp.secret,
        client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion: "x.y.z",
      });
      assertOAuthError(withAssertion, 400, "invalid_request");
    });

    it("a client_id in the body that differs from the Basic one is invalid_request", async () => {
      assertOAuthError(
        await post({ grant_type: "client_credentials", client_id: postApp.id }, { authorization: basic(confidential.id, confidential.secret) }),
        400,
        "invalid_request",
      );
    });

    it("a method other than the registered one is invalid_client, even with the right secret", async () => {
      // Registered explicitly for client_secret_basic, sends client_secret_post: no Basic challenge, Basic was not tried.
      const postToBasicOnly = await post({ grant_type: "client_credentials", client_id: basicOnlyApp.id, client_secret: basicOnlyApp.secret });
      assertOAuthError(postToBasicOnly, 401, "invalid_client");
      assert.equal(postToBasicOnly.headers.get("www-authenticate"), null);
      assert.match(String(postToBasicOnly.body.error_description), /registered for client_secret_basic, not client_secret_post/);
      assert.equal((await post({ grant_type: "client_credentials" }, { authorization: basic(basicOnlyApp.id, basicOnlyApp.secret) })).status, 200);
      // Registered explicitly for client_secret_post, sends Basic: 401 with a Basic challenge (RFC 6749 §5.2).
      const basicToPostOnly = await post({ grant_type: "client_credentials" }, { authorization: basic(postApp.id, postApp.secret) });
      assertOAuthError(basicToPostOnly, 401, "invalid_client");
      assert.match(basicToPostOnly.headers.get("www-authenticate") ?? "", /^Basic realm=/);
      // A confidential client cannot pass as public by sending no secret.
      assertOAuthError(await post({ grant_type: "client_credentials", client_id: confidential.id }), 401, "invalid_client");
      // A public client cannot send a secret.
      assertOAuthError(
        await post({ grant_type: "refresh_token", refresh_token: "x", client_id: publicApp.id, client_secret: "anything" }),
        401,
        "invalid_client",
      );
    });

    it("a client assertion that is not a JWT fails client authentication (RFC 7521 §4.2.1)", async () => {
      assertOAuthError(
        await post({
          grant_type: "client_credentials",
          client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
          client_assertion: "x.y.z",
        }),
        401,
        "invalid_client",
      );
    });

    it("a malformed Basic header is invalid_request", async () => {
      assertOAuthError(await post({ grant_type: "client_credentials" }, { authorization: "Basic !!!" }), 400, "invalid_request");
      assertOAuthError(
        await post({ grant_type: "client_credentials" }, { authorization: `Basic ${Buffer.from("no-colon").toString("base64")}` }),
        400,
        "invalid_request",
      );
    });
  });

  describe("grants a client may use", () => {
    it("an unknown grant_type is unsupported_grant_type", async () => {
      assertOAuthError(
        await post({ grant_type: "password", username: "u", password: "p" }, { authorization: basic(confidential.id, confidential.secret) }),
        400,
        "unsupported_grant_type",
      );
      assertOAuthError(
        await post({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer" }, { authorization: basic(confidential.id, confidential.secret) }),
        400,
        "unsupported_grant_type",
      );
    });

    it("a grant the client is not registered for is unauthorized_client", async () => {
      const response = await post({ grant_type: "client_credentials" }, { authorization: basic(noCredentialsApp.id, noCredentialsApp.secret) });
      assertOAuthError(response, 400, "unauthorized_client");
    });

    it("a public client using client_credentials is unauthorized_client", async () => {
      assertOAuthError(await post({ grant_type: "client_credentials", client_id: publicApp.id }), 400, "unauthorized_client");
      // Even if the registration somehow allowed it (written straight to the database).
      await services.db.app.update({ where: { id: publicApp.id }, data: { grantTypes: ["authorization_code", "refresh_token", "client_credentials"] } });
      services.clients.invalidate(publicApp.id);
      try {
        assertOAuthError(await post({ grant_type: "client_credentials", client_id: publicApp.id }), 400, "unauthorized_client");
      } finally {
        await services.db.app.update({ where: { id: publicApp.id }, data: { grantTypes: ["authorization_code", "refresh_token"] } });
        services.clients.invalidate(publicApp.id);
      }
    });
  });

  describe("request format (RFC 6749 §3.2)", () => {
    it("a missing grant_type is invalid_request", async () => {
      assertOAuthError(await post({ scope: "proxy" }, { authorization: basic(confidential.id, confidential.secret) }), 400, "invalid_request");
    });

    it("a JSON body is invalid_request", async () => {
      const response = await fetch(tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: basic(confidential.id, confidential.secret) },
        body: JSON.stringify({ grant_type: "client_credentials" }),
      });
      assertOAuthError(
        { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> },
        400,
        "invalid_request",
      );
    });

    it("a body without a content type is invalid_request", async () => {
      const response = await fetch(tokenUrl, {
        method: "POST",
        headers: { authorization: basic(confidential.id, confidential.secret) },
        body: new Blob(["grant_type=client_credentials"]),
      });
      assertOAuthError(
        { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> },
        400,
        "invalid_request",
      );
    });

    it("a repeated parameter is invalid_request", async () => {
      assertOAuthError(
        await post("grant_type=client_credentials&scope=proxy&scope=accounts%3Aread", { authorization: basic(confidential.id, confidential.secret) }),
        400,
        "invalid_request",
      );
      assertOAuthError(
        await post("grant_type=client_credentials&grant_type=client_credentials", { authorization: basic(confidential.id, confidential.secret) }),
        400,
        "invalid_request",
      );
    });

    it("a parameter with an empty value counts as absent (RFC 6749 §3.1)", async () => {
      const response = await post("grant_type=client_credentials&scope=", { authorization: basic(confidential.id, confidential.secret) });
      assert.equal(response.status, 200);
      assert.equal(response.body.scope, "proxy accounts:read", "the default scope, as if scope was not sent");
    });

    it("an oversized body is invalid_request", async () => {
      assertOAuthError(
        await post({ grant_type: "client_credentials", junk: "x".repeat(70_000) }, { authorization: basic(confidential.id, confidential.secret) }),
        400,
        "invalid_request",
      );
    });

    it("a charset parameter on the form media type is accepted", async () => {
      const response = await post(
        { grant_type: "client_credentials" },
        { authorization: basic(confidential.id, confidential.secret), "content-type": "application/x-www-form-urlencoded; charset=UTF-8" },
      );
      assert.equal(response.status, 200);
    });

    it("GET is refused with 405 and Allow", async () => {
      const response = await fetch(tokenUrl);
      assert.equal(response.status, 405);
      assert.equal(response.headers.get("allow"), "POST, OPTIONS");
    });
  });

  describe("responses", () => {
    it("a token response is JSON with Cache-Control: no-store and Pragma: no-cache (RFC 6749 §5.1)", async () => {
      const response = await post({ grant_type: "client_credentials", scope: "proxy" }, { authorization: basic(confidential.id, confidential.secret) });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("cache-control"), "no-store");
      assert.equal(response.headers.get("pragma"), "no-cache");
      assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
      assert.deepEqual(Object.keys(response.body).sort(), ["access_token", "expires_in", "scope", "token_type"]);
      assert.equal(response.body.token_type, "Bearer");
      assert.equal(response.body.expires_in, 3600);
    });

    it("CORS: any origin may call the token endpoint, without credentials, and preflight succeeds", async () => {
      const preflight = await fetch(tokenUrl, {
        method: "OPTIONS",
        headers: {
          origin: "https://spa.example.test",
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type,authorization",
        },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
      assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /POST/);
      assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /Content-Type/i);
      assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /Authorization/i);
      assert.equal(preflight.headers.get("access-control-allow-credentials"), null);
      const ok = await post(
        { grant_type: "client_credentials" },
        { authorization: basic(confidential.id, confidential.secret), origin: "https://spa.example.test" },
      );
      assert.equal(ok.headers.get("access-control-allow-origin"), "*");
      const failed = await post({ grant_type: "client_credentials" }, { origin: "https://spa.example.test" });
      assert.equal(failed.headers.get("access-control-allow-origin"), "*", "errors are readable by browser apps too");
    });

    it("errors never echo secrets back", async () => {
      const response = await post({ grant_type: "client_credentials", client_id: postApp.id, client_secret: "abs_this-is-a-wrong-secret" });
      assert.ok(!JSON.stringify(response.body).includes("abs_this-is-a-wrong-secret"));
      assert.ok(!services.logs.text.includes("abs_this-is-a-wrong-secret"), "nor log them");
      assert.ok(!services.logs.text.includes(postApp.secret));
    });
  });
});
