/**
 * Client secret rotation through the admin API (issue 18, item 4): the new
 * secret is returned once, the previous one keeps authenticating the client
 * at every back-channel endpoint until the end of the overlap and then
 * stops; a second rotation ends the secret that was previous at once; bad
 * input is a JSON `{error}`; nothing secret reaches the audit rows or the log.
 * A real broker on 127.0.0.1 with its own database and the local Redis.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { hashSecret } from "../../../src/crypto/secrets.js";
import { startTestBroker, type TestBroker } from "../../support/broker.js";

const ADMIN_TOKEN = "admin-token-for-rotation-0123456789abcdef";
const REDIRECT = "https://app.example.test/callback";

interface Rotated {
  client_id: string;
  client_secret: string;
  previous_secret_expires_at: string | null;
}

describe("client secret rotation", () => {
  let broker: TestBroker;

  before(async () => {
    broker = await startTestBroker({ env: { BROKER_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: "debug" } });
  });

  after(async () => {
    await broker?.stop();
  });

  /** A confidential app registered with defaults (both secret methods), allowed client_credentials. */
  async function newApp(): Promise<{ id: string; secret: string }> {
    const { client, secret } = await broker.services.clients.create({ name: "Rotating", redirectUris: [REDIRECT], scopes: ["proxy"] });
    return { id: client.id, secret: secret! };
  }

  function rotate(id: string, body?: unknown, contentType = "application/json"): Promise<Response> {
    return fetch(`${broker.url}/admin/v1/apps/${encodeURIComponent(id)}/rotate-secret`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined ? { "content-type": contentType } : {}) },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
  }

  async function rotated(id: string, body?: unknown): Promise<Rotated> {
    const res = await rotate(id, body);
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return JSON.parse(text) as Rotated;
  }

  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

  /** The status of a client_credentials token request with the secret in the Basic header or in the body. */
  async function tokenStatus(id: string, secret: string, method: "basic" | "post" = "basic"): Promise<number> {
    const form = new URLSearchParams({ grant_type: "client_credentials", scope: "proxy" });
    if (method === "post") (form.set("client_id", id), form.set("client_secret", secret));
    const res = await fetch(`${broker.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...(method === "basic" ? { authorization: basic(id, secret) } : {}) },
      body: form.toString(),
    });
    const body = (await res.json()) as { error?: string };
    if (res.status !== 200) assert.equal(body.error, "invalid_client");
    return res.status;
  }

  /** The status of a request to another endpoint that authenticates the client. */
  async function endpointStatus(path: "/oauth/introspect" | "/oauth/revoke", id: string, secret: string): Promise<number> {
    const res = await fetch(`${broker.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(id, secret) },
      body: new URLSearchParams({ token: "not-a-token-of-this-broker" }).toString(),
    });
    await res.arrayBuffer();
    return res.status;
  }

  /** Puts the end of the overlap in the past, as if it had been waited out (and drops the cached app, as the 5 s cache would). */
  async function endOverlap(id: string): Promise<void> {
    await broker.services.db.app.update({ where: { id }, data: { previousSecretExpiresAt: new Date(Date.now() - 1000) } });
    broker.services.clients.invalidate(id);
  }

  describe("POST /admin/v1/apps/:id/rotate-secret", () => {
    it("returns a new secret once; the stored row holds only hashes, the previous one with its expiry (a day by default)", async () => {
      const app = await newApp();
      const before = Date.now();
      const result = await rotated(app.id);
      assert.match(result.client_secret, /^abs_/);
      assert.notEqual(result.client_secret, app.secret);
      const expiresAt = Date.parse(result.previous_secret_expires_at!);
      assert.ok(expiresAt >= before + 86_400_000 - 1000 && expiresAt <= Date.now() + 86_400_000 + 1000, result.previous_secret_expires_at!);
      const row = await broker.services.db.app.findUniqueOrThrow({ where: { id: app.id } });
      assert.equal(row.secretHash, hashSecret(result.client_secret));
      assert.equal(row.previousSecretHash, hashSecret(app.secret));
      assert.equal(row.previousSecretExpiresAt?.toISOString(), result.previous_secret_expires_at);
      const dump = JSON.stringify(row);
      assert.ok(!dump.includes(result.client_secret) && !dump.includes(app.secret), "no secret in clear in the database");
      const view = await (await fetch(`${broker.url}/admin/v1/apps/${app.id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
      assert.ok(!view.includes(result.client_secret) && !/[0-9a-f]{64}/.test(view), "the app's view shows neither the secret nor a hash");
      assert.equal((JSON.parse(view) as Rotated).previous_secret_expires_at, result.previous_secret_expires_at);
    });

    it("within the overlap both secrets authenticate the client, at the token, introspection and revocation endpoints, Basic or in the body", async () => {
      const app = await newApp();
      const { client_secret: fresh } = await rotated(app.id, { overlap_seconds: 600 });
      for (const secret of [app.secret, fresh]) {
        assert.equal(await tokenStatus(app.id, secret, "basic"), 200);
        assert.equal(await tokenStatus(app.id, secret, "post"), 200);
        assert.equal(await endpointStatus("/oauth/introspect", app.id, secret), 200);
        assert.equal(await endpointStatus("/oauth/revoke", app.id, secret), 200);
      }
      assert.equal(await tokenStatus(app.id, "abs_neither"), 401, "a wrong secret is still refused");
    });

    it("after the overlap the previous secret is invalid_client everywhere, and the new one still works", async () => {
      const app = await newApp();
      const { client_secret: fresh } = await rotated(app.id, { overlap_seconds: 600 });
      assert.equal(await tokenStatus(app.id, app.secret), 200);
      await endOverlap(app.id);
      assert.equal(await tokenStatus(app.id, app.secret, "basic"), 401);
      assert.equal(await tokenStatus(app.id, app.secret, "post"), 401);
      assert.equal(await endpointStatus("/oauth/introspect", app.id, app.secret), 401);
      assert.equal(await endpointStatus("/oauth/revoke", app.id, app.secret), 401);
      assert.equal(await tokenStatus(app.id, fresh), 200);
    });

    it("the end of the overlap is checked on each request, so a cached app does not stretch it (a one-second overlap)", async () => {
      const app = await newApp();
      const { client_secret: fresh } = await rotated(app.id, { overlap_seconds: 1 });
      // The app is now in this process's cache, with the previous secret's expiry.
      assert.equal(await tokenStatus(app.id, app.secret), 200);
      await sleep(1100);
      assert.equal(await tokenStatus(app.id, app.secret), 401);
      assert.equal(await tokenStatus(app.id, fresh), 200);
    });

    it("overlap_seconds 0 ends the previous secret at once", async () => {
      const app = await newApp();
      const result = await rotated(app.id, { overlap_seconds: 0 });
      assert.equal(result.previous_secret_expires_at, null);
      assert.equal(await tokenStatus(app.id, app.secret), 401);
      assert.equal(await tokenStatus(app.id, result.client_secret), 200);
      const row = await broker.services.db.app.findUniqueOrThrow({ where: { id: app.id } });
      assert.equal(row.previousSecretHash, null);
    });

    it("a second rotation keeps only the secret it replaces: the one that was previous ends at once", async () => {
      const app = await newApp();
      const second = await rotated(app.id, { overlap_seconds: 600 });
      const third = await rotated(app.id, { overlap_seconds: 600 });
      assert.equal(await tokenStatus(app.id, app.secret), 401, "the first secret ends with the second rotation, overlap or not");
      assert.equal(await tokenStatus(app.id, second.client_secret), 200, "the second is now the previous one, within its overlap");
      assert.equal(await tokenStatus(app.id, third.client_secret), 200);
    });

    it("rotations at the same moment never hand out a secret that no longer works", async () => {
      const app = await newApp();
      const responses = await Promise.all([rotate(app.id, { overlap_seconds: 600 }), rotate(app.id, { overlap_seconds: 600 })]);
      const bodies = await Promise.all(responses.map(async (r) => ({ status: r.status, body: (await r.json()) as Rotated & { error?: string } })));
      assert.ok(
        bodies.every((b) => b.status === 200 || (b.status === 409 && b.body.error === "conflict")),
        JSON.stringify(bodies),
      );
      const handedOut = bodies.filter((b) => b.status === 200).map((b) => b.body.client_secret);
      assert.ok(handedOut.length >= 1);
      for (const secret of handedOut) assert.equal(await tokenStatus(app.id, secret), 200);
    });

    it("with no body, the default overlap applies", async () => {
      const app = await newApp();
      const res = await rotate(app.id);
      assert.equal(res.status, 200);
      const result = (await res.json()) as Rotated;
      assert.ok(Date.parse(result.previous_secret_expires_at!) > Date.now() + 86_000_000);
    });

    it("records an app.secret_rotated audit event without the secret, and no log line carries a secret", async () => {
      const app = await newApp();
      const result = await rotated(app.id, { overlap_seconds: 300 });
      await tokenStatus(app.id, app.secret, "post");
      await tokenStatus(app.id, result.client_secret, "post");
      const event = await broker.services.db.auditEvent.findFirstOrThrow({ where: { action: "app.secret_rotated", appId: app.id } });
      assert.equal(event.actorType, "operator");
      assert.deepEqual(event.detail, { overlapSeconds: 300, previousSecretExpiresAt: result.previous_secret_expires_at });
      const logs = broker.services.logs.text;
      assert.ok(logs.includes(app.id), "the requests were logged");
      for (const secret of [app.secret, result.client_secret]) {
        assert.ok(!logs.includes(secret), "a secret in the log");
        assert.ok(!logs.includes(hashSecret(secret)), "a secret's hash in the log");
      }
    });
  });

  describe("bad input is a JSON error, and changes nothing", () => {
    it("an unknown app is 404 not_found", async () => {
      const res = await rotate("app_nobody");
      assert.equal(res.status, 404);
      const body = (await res.json()) as { error: string; error_description: string };
      assert.equal(body.error, "not_found");
    });

    it("a public client, or one that authenticates with private_key_jwt, has no secret to rotate: 400 validation_failed", async () => {
      const { client: spa } = await broker.services.clients.create({ name: "SPA", redirectUris: [REDIRECT], isPublic: true });
      const res = await rotate(spa.id, {});
      assert.equal(res.status, 400);
      const body = (await res.json()) as { error: string; error_description: string };
      assert.equal(body.error, "validation_failed");
      assert.match(body.error_description, /public client: it has no client secret/);
      const { publicKey } = await import("node:crypto").then((c) => c.generateKeyPairSync("ec", { namedCurve: "P-256" }));
      const { client: jwtApp } = await broker.services.clients.create({
        name: "JWT app",
        redirectUris: [REDIRECT],
        tokenEndpointAuthMethod: "private_key_jwt",
        jwks: { keys: [{ ...publicKey.export({ format: "jwk" }), alg: "ES256", kid: "k1" }] },
      });
      const jwt = await rotate(jwtApp.id);
      assert.equal(jwt.status, 400);
      assert.match(((await jwt.json()) as { error_description: string }).error_description, /private_key_jwt: it has no client secret/);
      const row = await broker.services.db.app.findUniqueOrThrow({ where: { id: jwtApp.id } });
      assert.equal(row.secretHash, null);
    });

    it("a negative, fractional, non-numeric or too long overlap is 400 validation_failed naming overlap_seconds", async () => {
      const app = await newApp();
      for (const overlap of [-1, 1.5, "60", null, 31_536_001]) {
        const res = await rotate(app.id, { overlap_seconds: overlap });
        assert.equal(res.status, 400, String(overlap));
        const body = (await res.json()) as { error: string; error_description: string };
        assert.equal(body.error, "validation_failed");
        assert.match(body.error_description, /^body\.overlap_seconds: /);
      }
      const notJson = await rotate(app.id, "overlap_seconds=60", "application/x-www-form-urlencoded");
      assert.equal(notJson.status, 400);
      assert.equal(((await notJson.json()) as { error: string }).error, "validation_failed");
      assert.equal(await tokenStatus(app.id, app.secret), 200, "the secret was not rotated by any of them");
      const row = await broker.services.db.app.findUniqueOrThrow({ where: { id: app.id } });
      assert.equal(row.previousSecretHash, null);
    });
  });
});
