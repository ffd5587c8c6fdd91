/**
 * RFC 7591 dynamic client registration at POST /oauth/register, in each
 * BROKER_DYNAMIC_REGISTRATION mode: off (404, not in discovery), token (an
 * initial access token: missing, invalid, expired, used up, revoked) and
 * open; the metadata rules (invalid_redirect_uri, invalid_client_metadata,
 * web vs native redirect URIs), dedupe of identical public registrations, a
 * registered client running the code flow (the confidential one with the
 * secret it was given), reaping of unused registrations, the rate limit, and
 * the operator's `registration-tokens` verbs.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as client from "openid-client";
import { connectTestAccount, startBrokerWithGitHubLike, TEST_APP_REDIRECT } from "../../support/flow.js";
import { startTestBroker, type TestBroker } from "../../support/broker.js";
import type { OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { TEST_REDIS_URL } from "../../support/services.js";
import { createRegistrationToken, revokeRegistrationToken } from "../../../src/apps/registration-tokens.js";
import { reapUnusedRegistrations } from "../../../src/worker/reap-registrations.js";

const insecure = { execute: [client.allowInsecureRequests] };
const BIN = fileURLToPath(new URL("../../../bin/authbroker.js", import.meta.url));

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function register(broker: TestBroker, metadata: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${broker.url}/oauth/register`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof metadata === "string" ? metadata : JSON.stringify(metadata),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

async function discovery(broker: TestBroker): Promise<Record<string, unknown>> {
  return (await (await fetch(`${broker.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
}

/** A native public client's metadata (loopback redirect, PKCE). */
const nativePublic = (extra: Record<string, unknown> = {}) => ({
  application_type: "native",
  redirect_uris: [TEST_APP_REDIRECT],
  token_endpoint_auth_method: "none",
  grant_types: ["authorization_code", "refresh_token"],
  client_name: "Agent CLI",
  ...extra,
});

describe("dynamic client registration, off (the default)", () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker();
  });
  after(async () => {
    await broker?.stop();
  });

  it("answers 404 and is not in discovery", async () => {
    const answer = await register(broker, nativePublic());
    assert.equal(answer.status, 404);
    assert.equal(answer.body.error, "not_found");
    assert.equal((await discovery(broker)).registration_endpoint, undefined);
    assert.equal(await broker.services.db.app.count(), 0);
  });
});

describe("dynamic client registration, open", () => {
  let setup: Awaited<ReturnType<typeof startBrokerWithGitHubLike>>;
  let broker: TestBroker;
  let upstream: OAuth2Upstream;

  before(async () => {
    setup = await startBrokerWithGitHubLike({ env: { BROKER_DYNAMIC_REGISTRATION: "open" } });
    ({ broker, upstream } = setup);
  });
  after(async () => {
    await setup?.stop();
  });

  it("is listed in discovery", async () => {
    assert.equal((await discovery(broker)).registration_endpoint, `${broker.url}/oauth/register`);
  });

  it("registers a public client, audits it, and the client runs the code flow with PKCE", async () => {
    const answer = await register(broker, nativePublic({ client_name: "Flow Agent" }));
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.equal(answer.headers.get("cache-control"), "no-store");
    const clientId = answer.body.client_id as string;
    assert.match(clientId, /^app_/);
    assert.equal(answer.body.client_secret, undefined);
    assert.equal(typeof answer.body.client_id_issued_at, "number");
    assert.deepEqual(answer.body.redirect_uris, [TEST_APP_REDIRECT]);
    assert.equal(answer.body.token_endpoint_auth_method, "none");
    assert.equal(answer.body.scope, "accounts:read email offline_access openid profile proxy");
    const app = await broker.services.db.app.findUniqueOrThrow({ where: { id: clientId } });
    assert.equal(app.registration, "dynamic");
    assert.equal(app.isPublic, true);
    const audit = await broker.services.db.auditEvent.findFirstOrThrow({ where: { appId: clientId, action: "app.registered" } });
    assert.equal((audit.detail as Record<string, unknown>).mode, "open");

    upstream.setUser({ id: 900, login: "u900", email: "u900@example.test", name: "U 900" });
    const config = await client.discovery(new URL(broker.url), clientId, undefined, client.None(), insecure);
    const connected = await connectTestAccount({ id: clientId, secret: "", config }, "gh", "openid proxy offline_access");
    assert.ok(connected.tokens.refresh_token);
  });

  it("gives a confidential client a secret once, stored hashed, that works at the token endpoint", async () => {
    const answer = await register(broker, nativePublic({ token_endpoint_auth_method: "client_secret_basic", client_name: "Secret Agent" }));
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const clientId = answer.body.client_id as string;
    const secret = answer.body.client_secret as string;
    assert.match(secret, /^abs_/);
    assert.equal(answer.body.client_secret_expires_at, 0);
    const app = await broker.services.db.app.findUniqueOrThrow({ where: { id: clientId } });
    assert.notEqual(app.secretHash, secret);
    assert.ok(!JSON.stringify(app).includes(secret), "the secret itself is not stored");

    upstream.setUser({ id: 901, login: "u901", email: "u901@example.test", name: "U 901" });
    const config = await client.discovery(new URL(broker.url), clientId, undefined, client.ClientSecretBasic(secret), insecure);
    const connected = await connectTestAccount({ id: clientId, secret, config }, "gh", "proxy offline_access");
    assert.ok(connected.tokens.access_token);
    // Registered for client_secret_basic only: the secret in the body is refused.
    const post = await fetch(`${broker.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: connected.tokens.refresh_token!, client_id: clientId, client_secret: secret }),
    });
    assert.equal(post.status, 401);
    // A second identical confidential registration is a new client with a new secret.
    const again = await register(broker, nativePublic({ token_endpoint_auth_method: "client_secret_basic", client_name: "Secret Agent" }));
    assert.notEqual(again.body.client_id, clientId);
  });

  it("returns the same client_id for an identical public registration, without a new row", async () => {
    const first = await register(broker, nativePublic({ client_name: "Dedupe Agent", scope: "openid proxy" }));
    const count = await broker.services.db.app.count();
    const reordered = { scope: "proxy  openid", client_name: "Dedupe Agent", grant_types: ["refresh_token", "authorization_code"] };
    const second = await register(broker, nativePublic(reordered));
    assert.equal(first.status, 201);
    assert.equal(second.status, 201);
    assert.equal(second.body.client_id, first.body.client_id);
    assert.equal(second.body.client_id_issued_at, first.body.client_id_issued_at);
    assert.equal(await broker.services.db.app.count(), count);
    const different = await register(broker, nativePublic({ client_name: "Dedupe Agent 2", scope: "openid proxy" }));
    assert.notEqual(different.body.client_id, first.body.client_id);
  });

  it("refuses redirect URIs no app may have, and web-application rules for web clients (invalid_redirect_uri)", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ redirect_uris: undefined }, /redirect_uris is required/],
      [{ redirect_uris: [] }, /redirect_uris is required/],
      [{ redirect_uris: "https://agent.example.com/cb" }, /must be an array of strings/],
      [{ redirect_uris: ["https://agent.example.com/cb#frag"] }, /must not contain a fragment/],
      [{ redirect_uris: ["http://agent.example.com/cb"] }, /must use https/],
      [{ redirect_uris: ["http://localhost:8080/cb"] }, /names localhost/],
      [{ redirect_uris: ["javascript:alert(1)"] }, /forbidden scheme/],
      [{ redirect_uris: ["not a uri"] }, /not an absolute URI/],
      [{ application_type: "web", redirect_uris: [TEST_APP_REDIRECT] }, /must use https for a web application/],
      // No application_type and an https redirect URI: a web app, so its loopback one is refused.
      [{ application_type: undefined, redirect_uris: ["https://agent.example.com/cb", "com.example.agent:/cb"] }, /must use https for a web application/],
    ];
    for (const [extra, words] of cases) {
      const answer = await register(broker, nativePublic(extra));
      const expectedError = /array of strings/.test(words.source) ? "invalid_client_metadata" : "invalid_redirect_uri";
      assert.equal(answer.status, 400, `${JSON.stringify(extra)}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error, expectedError, JSON.stringify(extra));
      assert.match(String(answer.body.error_description), words, JSON.stringify(extra));
    }
  });

  it("accepts native redirect URIs (custom scheme, loopback) and https for web", async () => {
    for (const extra of [
      { application_type: "native", redirect_uris: ["com.example.agent:/cb"] },
      { application_type: "native", redirect_uris: ["http://127.0.0.1/cb", "http://[::1]/cb"] },
      { application_type: "web", redirect_uris: ["https://agent.example.com/cb"] },
    ]) {
      const answer = await register(broker, nativePublic(extra));
      assert.equal(answer.status, 201, `${JSON.stringify(extra)}: ${JSON.stringify(answer.body)}`);
    }
  });

  it("takes a request without application_type whose redirect URIs are all loopback or custom-scheme for a native app (as MCP clients register)", async () => {
    for (const [uris, type] of [
      [["http://127.0.0.1:33418/callback"], "native"],
      [["com.example.agent:/cb", "http://[::1]/cb"], "native"],
      [["https://agent.example.com/cb"], "web"],
    ] as const) {
      const answer = await register(broker, nativePublic({ application_type: undefined, redirect_uris: uris }));
      assert.equal(answer.status, 201, `${JSON.stringify(uris)}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.application_type, type);
    }
  });

  it("registers the scopes of a registered resource (an MCP client sends its server's scopes_supported), which are not broker scopes of the app", async () => {
    const uri = "https://mcp.example.test/files";
    await broker.services.db.resource.create({ data: { uri, name: "Files", scopes: ["files:read"] } });
    try {
      const answer = await register(broker, nativePublic({ client_name: "Resource Agent", scope: "files:read openid" }));
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      assert.equal(answer.body.scope, "files:read openid");
      const app = await broker.services.db.app.findUniqueOrThrow({ where: { id: answer.body.client_id as string } });
      assert.deepEqual(app.scopes, ["openid"], "a resource's scopes are asked for with its resource indicator, by any app");
      const unknown = await register(broker, nativePublic({ scope: "files:write" }));
      assert.equal(unknown.status, 400);
      assert.match(String(unknown.body.error_description), /scope "files:write" cannot be registered dynamically/);
    } finally {
      await broker.services.db.resource.delete({ where: { uri } });
    }
  });

  it("refuses other bad metadata (invalid_client_metadata)", async () => {
    const cases: [unknown, RegExp][] = [
      [[nativePublic()], /must be a JSON object/],
      [nativePublic({ application_type: "desktop" }), /application_type must be/],
      [nativePublic({ token_endpoint_auth_method: "private_key_jwt" }), /token_endpoint_auth_method must be one of/],
      [nativePublic({ token_endpoint_auth_method: "client_secret_jwt" }), /token_endpoint_auth_method must be one of/],
      [nativePublic({ grant_types: ["client_credentials"] }), /grant_types must include authorization_code/],
      [nativePublic({ grant_types: ["authorization_code", "urn:ietf:params:oauth:grant-type:token-exchange"] }), /grant_types/],
      [nativePublic({ response_types: ["token"] }), /response_types must be/],
      [nativePublic({ scope: "openid admin" }), /scope "admin" cannot be registered dynamically/],
      [nativePublic({ scope: 42 }), /scope must be a space-separated string/],
      [nativePublic({ client_name: "" }), /client_name must be/],
      [nativePublic({ client_uri: "http://agent.example.com" }), /client_uri must be an https URL/],
      [nativePublic({ logo_uri: "nope" }), /logo_uri is not a URL/],
    ];
    const before = await broker.services.db.app.count();
    for (const [metadata, words] of cases) {
      const answer = await register(broker, metadata);
      assert.equal(answer.status, 400, `${JSON.stringify(metadata)}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error, "invalid_client_metadata", JSON.stringify(metadata));
      assert.match(String(answer.body.error_description), words, JSON.stringify(metadata));
    }
    assert.equal(await broker.services.db.app.count(), before, "nothing registered");
  });

  it("reaps registrations older than the reap age that never got an account or a grant, and keeps the rest", async () => {
    const unused = (await register(broker, nativePublic({ client_name: "Never used" }))).body.client_id as string;
    const used = (await register(broker, nativePublic({ client_name: "Used" }))).body.client_id as string;
    upstream.setUser({ id: 902, login: "u902", email: "u902@example.test", name: "U 902" });
    const config = await client.discovery(new URL(broker.url), used, undefined, client.None(), insecure);
    await connectTestAccount({ id: used, secret: "", config }, "gh", "proxy");
    const { client: operatorApp } = await broker.services.clients.create({ name: "Operator's", redirectUris: [TEST_APP_REDIRECT], isPublic: true });

    assert.equal(await reapUnusedRegistrations(broker.services), 0, "nothing is old enough yet");
    const later = new Date(Date.now() + (broker.services.config.dynamicRegistration.reapAfterSeconds + 60) * 1000);
    assert.ok((await reapUnusedRegistrations(broker.services, later)) >= 1);
    assert.equal(await broker.services.db.app.findUnique({ where: { id: unused } }), null);
    assert.ok(await broker.services.db.app.findUnique({ where: { id: used } }), "an app with an account stays");
    assert.ok(await broker.services.db.app.findUnique({ where: { id: operatorApp.id } }), "an operator's app is never reaped");
    assert.ok(await broker.services.db.revokedClient.findUnique({ where: { clientId: unused } }), "its tokens are refused as a deleted app's");
    assert.equal(await broker.services.db.auditEvent.count({ where: { appId: unused, action: "app.reaped" } }), 1);
  });
});

describe("dynamic client registration, token", () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker({ env: { BROKER_DYNAMIC_REGISTRATION: "token" } });
  });
  after(async () => {
    await broker?.stop();
  });
  const withToken = (token: string) => ({ authorization: `Bearer ${token}` });

  function assertRefused(answer: Answer, words: RegExp): void {
    assert.equal(answer.status, 401, JSON.stringify(answer.body));
    assert.equal(answer.body.error, "invalid_token");
    assert.match(String(answer.body.error_description), words);
    assert.match(answer.headers.get("www-authenticate") ?? "", /^Bearer error="invalid_token"/);
  }

  it("is listed in discovery", async () => {
    assert.equal((await discovery(broker)).registration_endpoint, `${broker.url}/oauth/register`);
  });

  it("refuses a registration without an initial access token, or with one that is not valid", async () => {
    assertRefused(await register(broker, nativePublic()), /needs an initial access token/);
    assertRefused(await register(broker, nativePublic(), { authorization: "Basic Zm9vOmJhcg==" }), /needs an initial access token/);
    assertRefused(await register(broker, nativePublic(), withToken("abr_not-a-token")), /is not valid/);
    assert.equal(await broker.services.db.app.count(), 0);
  });

  it("registers with a valid token and records which token in the audit", async () => {
    const { token, view } = await createRegistrationToken(broker.services.db);
    const answer = await register(broker, nativePublic({ client_name: "Token Agent" }), withToken(token));
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const audit = await broker.services.db.auditEvent.findFirstOrThrow({ where: { appId: answer.body.client_id as string, action: "app.registered" } });
    assert.equal((audit.detail as Record<string, unknown>).registrationTokenId, view.id);
  });

  it("refuses an expired token", async () => {
    const { token, view } = await createRegistrationToken(broker.services.db, { expiresInSeconds: 60 });
    await broker.services.db.registrationToken.update({ where: { id: view.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    assertRefused(await register(broker, nativePublic({ client_name: "Late" }), withToken(token)), /has expired/);
  });

  it("spends one use per registration, none for a rejected request, and refuses a used-up token", async () => {
    const { token, view } = await createRegistrationToken(broker.services.db, { maxUses: 1 });
    const bad = await register(broker, nativePublic({ redirect_uris: ["http://agent.example.com/cb"] }), withToken(token));
    assert.equal(bad.body.error, "invalid_redirect_uri");
    assert.equal((await register(broker, nativePublic({ client_name: "Once" }), withToken(token))).status, 201);
    assertRefused(await register(broker, nativePublic({ client_name: "Twice" }), withToken(token)), /no uses left/);
    assert.equal((await broker.services.db.registrationToken.findUniqueOrThrow({ where: { id: view.id } })).uses, 1);
  });

  it("spends a one-use token once when registrations race", async () => {
    const { token } = await createRegistrationToken(broker.services.db, { maxUses: 1 });
    const answers = await Promise.all([1, 2, 3, 4].map((i) => register(broker, nativePublic({ client_name: `Racer ${i}` }), withToken(token))));
    assert.equal(answers.filter((a) => a.status === 201).length, 1);
  });

  it("refuses a revoked token", async () => {
    const { token, view } = await createRegistrationToken(broker.services.db);
    await revokeRegistrationToken(broker.services.db, view.id);
    assertRefused(await register(broker, nativePublic({ client_name: "Revoked" }), withToken(token)), /was revoked/);
  });

  it("refuses a token made with a lifetime or number of uses out of range", async () => {
    await assert.rejects(createRegistrationToken(broker.services.db, { maxUses: 0 }), /number of uses/);
    await assert.rejects(createRegistrationToken(broker.services.db, { expiresInSeconds: 1.5 }), /lifetime/);
  });

  it("`authbroker registration-tokens` creates (shown once), lists and revokes tokens", () => {
    const env = {
      PATH: process.env.PATH ?? "",
      DATABASE_URL: broker.services.database.url,
      REDIS_URL: TEST_REDIS_URL,
      BROKER_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString("base64")}`,
    };
    const cli = (...args: string[]) => {
      const cwd = mkdtempSync(join(tmpdir(), "authbroker-registration-"));
      mkdirSync(join(cwd, "connectors"));
      try {
        return spawnSync(process.execPath, [BIN, ...args], { cwd, env, encoding: "utf8", timeout: 60_000 });
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    };
    const created = cli("registration-tokens", "create", "--expires-in", "3600", "--uses", "2", "--json");
    assert.equal(created.status, 0, created.stderr);
    const made = JSON.parse(created.stdout) as { id: string; token: string; max_uses: number; expires_at: string };
    assert.match(made.token, /^abr_/);
    assert.equal(made.max_uses, 2);
    const listed = cli("registration-tokens", "list", "--json");
    assert.equal(listed.status, 0, listed.stderr);
    assert.ok(!listed.stdout.includes(made.token), "never listed");
    assert.ok((JSON.parse(listed.stdout) as { id: string }[]).some((t) => t.id === made.id));
    const revoked = cli("registration-tokens", "revoke", made.id, "--json");
    assert.equal(revoked.status, 0, revoked.stderr);
    assert.ok((JSON.parse(revoked.stdout) as { revoked_at: string | null }).revoked_at);
    const badUses = cli("registration-tokens", "create", "--uses", "0");
    assert.notEqual(badUses.status, 0);
    assert.match(badUses.stderr, /--uses must be a whole number/);
    const unknown = cli("registration-tokens", "revoke", "rtk_nope");
    assert.notEqual(unknown.status, 0);
    assert.match(unknown.stderr, /does not exist/);
  });
});

describe("dynamic client registration, rate limited per address", () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker({ env: { BROKER_DYNAMIC_REGISTRATION: "open", RATE_LIMIT_PER_IP: "3", RATE_LIMIT_WINDOW_SECONDS: "60" } });
  });
  after(async () => {
    await broker?.stop();
  });

  it("answers 429 once an address used its registrations of the window", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await register(broker, nativePublic({ client_name: `Flood ${i}` }))).status);
    assert.deepEqual(statuses, [201, 201, 201, 429]);
  });
});
