/**
 * Standard Webhooks (standardwebhooks.com) signing: what lets an app verify
 * the broker's webhooks with an existing library (`standardwebhooks` on npm,
 * Svix's). A secret is `whsec_` + base64 of random bytes; the HMAC key is
 * the decoded bytes, not the text. Each message is signed over
 * `<webhook-id>.<webhook-timestamp>.<body>` with HMAC-SHA256 and sent as
 * `webhook-signature: v1,<base64>`.
 */
import { createHmac, randomBytes } from "node:crypto";

export const WEBHOOK_SECRET_PREFIX = "whsec_";

/** A new webhook signing secret: `whsec_` + base64 (the standard alphabet, which the libraries decode) of 32 random bytes. */
export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(32).toString("base64");
}

/**
 * The HMAC key of a secret. Node's base64 decoder also reads the base64url
 * alphabet, so the secrets of apps registered before the broker followed
 * Standard Webhooks (`whsec_<base64url>`) keep their meaning.
 */
function keyOf(secret: string): Buffer {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) throw new TypeError("a webhook secret starts with whsec_");
  return Buffer.from(secret.slice(WEBHOOK_SECRET_PREFIX.length), "base64");
}

/** The `webhook-signature` header's value: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. */
export function signWebhook(secret: string, messageId: string, timestampSeconds: number, body: string): string {
  const mac = createHmac("sha256", keyOf(secret)).update(`${messageId}.${timestampSeconds}.${body}`).digest("base64");
  return `v1,${mac}`;
}

/** The three headers of a signed message (Standard Webhooks names them in lower case). */
export function webhookHeaders(secret: string, messageId: string, timestampSeconds: number, body: string): Record<string, string> {
  return {
    "webhook-id": messageId,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": signWebhook(secret, messageId, timestampSeconds, body),
  };
}
