/**
 * The "signed-in user" cookie: which user of an app this browser last
 * connected an account for. A connect-on-demand link (oauth/connect-tickets.ts)
 * is a bearer capability — whoever opens it connects an account for the
 * ticket's user. Without this cookie an attacker could get a link for their
 * own agent's user and send it to a victim, whose upstream account would
 * then join the attacker's user (MCP's URL-mode elicitation guidance: the
 * server must make sure the person completing the URL flow is the user the
 * elicitation was made for). So every connect that stores an account
 * (an authorization's, a device flow's, an on-demand one: all end in
 * authorization-response.ts) leaves this cookie in the browser that did it,
 * and the on-demand page (connect/on-demand.ts) goes on only in a browser
 * whose cookie for the ticket's app names the ticket's user.
 *
 * One cookie per app (its name carries a hash of the app id), holding the
 * user id and an expiry sealed with the broker's keyring (BROKER_ENCRYPTION_KEYS,
 * XChaCha20-Poly1305): authenticated, so it cannot be forged or edited, and
 * the associated data names the app, so one app's cookie does not open under
 * another's name. No key of its own: rotating the keyring keeps old cookies
 * valid until the old key is removed, and then they are refused like expired
 * ones (the end user signs in again through the agent). It is sent to the
 * on-demand pages only, httpOnly, SameSite=Lax (the link is a top-level
 * navigation from the agent), Secure when the issuer is https.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Keyring } from "../crypto/keyring.js";
import { addSetCookie, readCookie } from "../http/cookies.js";
import { ON_DEMAND_CONNECT_PATH } from "../paths.js";
import type { Services } from "../services.js";

/** How long a browser stays known as a user's: a month after its last connect. */
export const USER_COOKIE_MAX_AGE_SECONDS = 30 * 24 * 3600;
const SEAL_FIELD = "on-demand user cookie";

interface UserCookiePayload {
  userId: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/** The cookie's name for an app: `ab_user_` and 16 hex digits of the app id's SHA-256 (any app id, a valid cookie name). */
export function userCookieName(appId: string): string {
  return `ab_user_${createHash("sha256").update(appId).digest("hex").slice(0, 16)}`;
}

/** The cookie's sealed value: `userId` of `appId` until `expiresAt`. */
export function sealUserCookie(keyring: Keyring, appId: string, userId: string, expiresAt: number): string {
  const payload: UserCookiePayload = { userId, expiresAt };
  return keyring.sealJson(payload, { rowId: appId, field: SEAL_FIELD });
}

/** Leaves the cookie naming `userId` of `appId` in this browser (added to any other Set-Cookie of the response). */
export function setUserCookie(services: Pick<Services, "keyring" | "config">, res: ServerResponse, appId: string, userId: string): void {
  const value = sealUserCookie(services.keyring, appId, userId, Date.now() + USER_COOKIE_MAX_AGE_SECONDS * 1000);
  const attributes = [
    `${userCookieName(appId)}=${value}`,
    `Path=${ON_DEMAND_CONNECT_PATH}`,
    "HttpOnly",
    "SameSite=Lax",
    `Max-Age=${USER_COOKIE_MAX_AGE_SECONDS}`,
  ];
  if (services.config.issuer.startsWith("https:")) attributes.push("Secure");
  addSetCookie(res, attributes.join("; "));
}

/**
 * The user of `appId` this browser's cookie names; undefined when there is
 * none, or it is expired, tampered with, another app's, or sealed under a
 * key no longer in the keyring.
 */
export function browserUserOf(keyring: Keyring, req: IncomingMessage, appId: string): string | undefined {
  const sealed = readCookie(req, userCookieName(appId));
  if (sealed === undefined || sealed === "") return undefined;
  let payload: UserCookiePayload;
  try {
    payload = keyring.openJson<UserCookiePayload>(sealed, { rowId: appId, field: SEAL_FIELD });
  } catch {
    return undefined;
  }
  if (typeof payload?.userId !== "string" || typeof payload.expiresAt !== "number" || payload.expiresAt <= Date.now()) return undefined;
  return payload.userId;
}
