/**
 * The broker's Standard Webhooks signature is the one the reference library
 * makes and checks, for new secrets and for the base64url secrets apps were
 * given before.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { generateWebhookSecret, signWebhook, webhookHeaders } from "../../../src/crypto/webhook-signature.js";

describe("Standard Webhooks signatures", () => {
  const body = JSON.stringify({ type: "account.connected", timestamp: "2026-12-05T17:00:00.000Z", data: { account_id: "acc_1" } });

  it("signs as the standardwebhooks library does, and the library verifies it", () => {
    const secret = generateWebhookSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const at = new Date();
    const seconds = Math.floor(at.getTime() / 1000);
    assert.equal(signWebhook(secret, "msg_1", seconds, body), new Webhook(secret).sign("msg_1", new Date(seconds * 1000), body));
    assert.deepEqual(new Webhook(secret).verify(body, webhookHeaders(secret, "msg_1", seconds, body)), JSON.parse(body));
  });

  it("keys the HMAC with the decoded bytes after whsec_, not the text", () => {
    const key = randomBytes(32);
    const secret = `whsec_${key.toString("base64")}`;
    assert.equal(signWebhook(secret, "msg_2", 1_700_000_000, body), new Webhook(key, { format: "raw" }).sign("msg_2", new Date(1_700_000_000_000), body));
  });

  it("reads an earlier base64url secret as the same key", () => {
    let key = randomBytes(32);
    while (!/[-_]/.test(key.toString("base64url"))) key = randomBytes(32);
    const legacy = `whsec_${key.toString("base64url")}`;
    const standard = `whsec_${key.toString("base64")}`;
    assert.equal(signWebhook(legacy, "msg_3", 1_700_000_000, body), signWebhook(standard, "msg_3", 1_700_000_000, body));
  });

  it("refuses a secret without its prefix", () => {
    assert.throws(() => signWebhook(randomBytes(32).toString("base64"), "msg_4", 1, body), TypeError);
  });
});
