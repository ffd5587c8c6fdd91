/**
 * The connect session: everything the broker must remember between sending
 * the end user to the upstream and the upstream sending them back — the
 * app's authorization request and the upstream leg's own state, nonce and
 * PKCE verifier. It lives in Redis (shared by every `serve` process), sealed
 * (the PKCE verifier is a secret), for ten minutes, and is taken once.
 *
 * It is bound to the browser that started it by a cookie (RFC 9700 §4.7: a
 * code injected into another user's browser is refused): the session stores
 * the hash of a random cookie value and the callback checks it.
 */
import type { Request, Response } from "express";
import type { Keyring } from "../crypto/keyring.js";
import type { PendingAuthorization } from "../oauth/authorization-response.js";
import { generateSecret, hashSecret, secretMatches } from "../crypto/secrets.js";
import type { Redis } from "../redis.js";

export const CONNECT_SESSION_TTL_SECONDS = 600;
const KEY_PREFIX = "connect:session:";
const SEAL_FIELD = "ConnectSession";

/** The app's pending request (its scope: the broker and connector scopes granted to its tokens), and the upstream leg. */
export interface ConnectSession extends PendingAuthorization {
  id: string;
  hostname?: string;
  pinnedAddress?: string;
  upstreamScopes: string[];
  upstream: { state: string; nonce?: string; codeVerifier?: string };
  /** SHA-256 of the browser-binding cookie. */
  bindingHash: string;
  createdAt: number;
}

export type NewConnectSession = Omit<ConnectSession, "bindingHash" | "createdAt">;

function cookieName(sessionId: string): string {
  return `ab_connect_${sessionId}`;
}

/** A new session id. The upstream `state` starts with it, so the callback can find the session. */
export function newSessionId(): string {
  return generateSecret().slice(0, 22);
}

/** The session id an upstream `state` refers to (`<sid>.<random>`). */
export function sessionIdFromState(state: string): string | undefined {
  const dot = state.indexOf(".");
  const sid = dot === -1 ? "" : state.slice(0, dot);
  return /^[A-Za-z0-9_-]{22}$/.test(sid) ? sid : undefined;
}

export function newUpstreamState(sessionId: string): string {
  return `${sessionId}.${generateSecret()}`;
}

export async function saveSession(redis: Redis, keyring: Keyring, res: Response, session: NewConnectSession, secureCookies: boolean): Promise<void> {
  const binding = generateSecret();
  const full: ConnectSession = { ...session, bindingHash: hashSecret(binding), createdAt: Date.now() };
  await redis.set(KEY_PREFIX + session.id, keyring.sealJson(full, { rowId: session.id, field: SEAL_FIELD }), "EX", CONNECT_SESSION_TTL_SECONDS);
  res.cookie(cookieName(session.id), binding, {
    httpOnly: true,
    // Lax: sent on the top-level GET navigation back from the upstream.
    sameSite: "lax",
    secure: secureCookies,
    path: "/connect",
    maxAge: CONNECT_SESSION_TTL_SECONDS * 1000,
  });
}

export type TakenSession = { session: ConnectSession; boundToBrowser: boolean } | undefined;

/**
 * Takes a session once (GETDEL: a replayed callback finds nothing) and tells
 * whether the request comes from the browser that started it.
 */
export async function takeSession(redis: Redis, keyring: Keyring, req: Request, res: Response, sessionId: string): Promise<TakenSession> {
  const sealed = await redis.getdel(KEY_PREFIX + sessionId);
  res.clearCookie(cookieName(sessionId), { path: "/connect" });
  if (!sealed) return undefined;
  const session = keyring.openJson<ConnectSession>(sealed, { rowId: sessionId, field: SEAL_FIELD });
  const binding = readCookie(req, cookieName(sessionId));
  return { session, boundToBrowser: binding !== undefined && secretMatches(binding, session.bindingHash) };
}

/** One cookie's value from the Cookie header (no cookie-parser needed for one lookup). */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
