/**
 * Where a client may put its secret (RFC 6749 §2.3.1, issue 18 item 5): an
 * app registered with defaults takes it in the Authorization header
 * (`client_secret_basic`) or in the form body (`client_secret_post`) at every
 * endpoint that authenticates clients; an app registered with one of them
 * explicitly takes only that one; a request that uses both at once is
 * `invalid_request` (§2.3: "MUST NOT use more than one authentication
 * method in each request"). The token endpoint's own cases are in
 * token-endpoint.test.ts; this file covers the other endpoints, discovery and
 * registration through the admin API.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startTestBroker, type TestBroker } from "../../support/broker.js";

const ADMIN_TOKEN = "admin-token-for-methods-0123456789abcdef";
const REDIRECT = "https://app.example.test/callback";
const DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code";

type Method = "basic" | "post";
type Endpoint = "/oauth/token" | "/oauth/introspect" | "/oauth/revoke" | "/oauth/device_authorization";

/** Each endpoint's parameters besides client authentication. */
const PARAMETERS: Record<Endpoint, Record<string, string>> = {
  "/oauth/token": { grant_type: "client_credentials", scope: "proxy" },
  "/oauth/introspect": { token: "not-a-token-of-this-broker" },
  "/oauth/revoke": { token: "not-a-token-of-this-broker" },
  "/oauth/device_authorization": { scope: "proxy" },
};
const ENDPOINTS = Object.keys(PARAMETERS) as Endpoint[];

describe("client_secret_basic and client_secret_post", () => {
  let broker: TestBroker;
  let defaults: { id: string; secret: string };
  let basicOnly: { id: string; secret: string };
  let postOnly: { id: string; secret: string };

  async function register(name: string, method?: "client_secret_basic" | "client_secret_post") {
    const res = await fetch(`${broker.url}/admin/v1/apps`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({
        name,
        redirect_uris: [REDIRECT],
        scopes: ["proxy"],
        grant_types: ["authorization_code", "client_credentials", DEVICE_CODE],
        ...(method ? { token_endpoint_auth_method: method } : {}),
      }),
    });
    assert.equal(res.status, 201);
    const app = (await res.json()) as { client_id: string; client_secret: string; token_endpoint_auth_method: string; token_endpoint_auth_methods: string[] };
    return app;
  }

  before(async () => {
    broker = await startTestBroker({ env: { BROKER_ADMIN_TOKEN: ADMIN_TOKEN } });
    const d = await register("Defaults");
    defaults = { id: d.client_id, secret: d.client_secret };
    const b = await register("Basic only", "client_secret_basic");
    basicOnly = { id: b.client_id, secret: b.client_secret };
    const p = await register("Post only", "client_secret_post");
    postOnly = { id: p.client_id, secret: p.client_secret };
  });

  after(async () => {
    await broker?.stop();
  });

  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

  async function call(endpoint: Endpoint, app: { id: string; secret: string }, methods: Method[]) {
    const form = new URLSearchParams(PARAMETERS[endpoint]);
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
    if (methods.includes("basic")) headers.authorization = basic(app.id, app.secret);
    if (methods.includes("post")) (form.set("client_id", app.id), form.set("client_secret", app.secret));
    const res = await fetch(`${broker.url}${endpoint}`, { method: "POST", headers, body: form.toString() });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  }

  it("registration: defaults accept both methods, naming one narrows to it; the view says which", async () => {
    const d = await (await fetch(`${broker.url}/admin/v1/apps/${defaults.id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
    assert.equal((d as { token_endpoint_auth_method: string }).token_endpoint_auth_method, "client_secret_basic");
    assert.deepEqual((d as { token_endpoint_auth_methods: string[] }).token_endpoint_auth_methods, ["client_secret_basic", "client_secret_post"]);
    const p = await (await fetch(`${broker.url}/admin/v1/apps/${postOnly.id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
    assert.deepEqual((p as { token_endpoint_auth_methods: string[] }).token_endpoint_auth_methods, ["client_secret_post"]);
    const rows = await broker.services.db.app.findMany({ where: { id: { in: [defaults.id, basicOnly.id, postOnly.id] } } });
    assert.deepEqual(Object.fromEntries(rows.map((r) => [r.id, [r.tokenEndpointAuthMethod, r.authMethodNarrowed]])), {
      [defaults.id]: ["client_secret_basic", false],
      [basicOnly.id]: ["client_secret_basic", true],
      [postOnly.id]: ["client_secret_post", true],
    });
  });

  it("discovery advertises both secret methods for every endpoint that authenticates clients", async () => {
    const metadata = (await (await fetch(`${broker.url}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
    for (const field of [
      "token_endpoint_auth_methods_supported",
      "introspection_endpoint_auth_methods_supported",
      "revocation_endpoint_auth_methods_supported",
    ]) {
      assert.ok(metadata[field]!.includes("client_secret_basic") && metadata[field]!.includes("client_secret_post"), field);
      assert.ok(!metadata[field]!.includes("client_secret_jwt"), `${field}: client secrets are stored hashed, so no HMAC method`);
    }
  });

  for (const endpoint of ENDPOINTS) {
    describe(endpoint, () => {
      it("an app registered with defaults authenticates with either method", async () => {
        for (const method of ["basic", "post"] as const) {
          const response = await call(endpoint, defaults, [method]);
          assert.equal(response.status, 200, `${method}: ${JSON.stringify(response.body)}`);
        }
      });

      it("an app narrowed to client_secret_basic refuses the secret in the body: 401 invalid_client, no Basic challenge", async () => {
        assert.equal((await call(endpoint, basicOnly, ["basic"])).status, 200);
        const refused = await call(endpoint, basicOnly, ["post"]);
        assert.equal(refused.status, 401);
        assert.deepEqual(Object.keys(refused.body).sort(), ["error", "error_description"]);
        assert.equal(refused.body.error, "invalid_client");
        assert.equal(refused.headers.get("www-authenticate"), null);
      });

      it("an app narrowed to client_secret_post refuses Basic: 401 invalid_client with a Basic challenge", async () => {
        assert.equal((await call(endpoint, postOnly, ["post"])).status, 200);
        const refused = await call(endpoint, postOnly, ["basic"]);
        assert.equal(refused.status, 401);
        assert.equal(refused.body.error, "invalid_client");
        assert.match(refused.headers.get("www-authenticate") ?? "", /^Basic realm="authbroker"/);
      });

      it("both methods in one request are invalid_request, even for an app that accepts each", async () => {
        const both = await call(endpoint, defaults, ["basic", "post"]);
        assert.equal(both.status, 400);
        assert.equal(both.body.error, "invalid_request");
        assert.match(String(both.body.error_description), /more than one client authentication method/);
      });
    });
  }
});
