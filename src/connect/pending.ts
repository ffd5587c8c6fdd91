/**
 * A connect waiting for the end user to type something on a broker page —
 * the server's hostname, or the values a connector asks for (an API key, a
 * password, a subject). It remembers the app's authorization request, the
 * checked hostname and the address it resolved to, which page is due, and
 * the last problem to show on it.
 *
 * Like the connect session of the redirect flow it lives in Redis (shared
 * by every `serve` process), sealed, for a bounded time, and is bound to
 * the browser that started it by a cookie whose hash it stores; the forms'
 * CSRF tokens are derived from that cookie (csrf.ts). Nothing secret the
 * end user types is ever kept here: only values of non-secret fields, to
 * fill the form again after a problem.
 */
import type { Request, Response } from "express";
import type { Keyring } from "../crypto/keyring.js";
import { generateSecret, hashSecret, secretMatches } from "../crypto/secrets.js";
import type { Redis } from "../redis.js";
import { readCookie, type NewConnectSession } from "./session.js";

/** How long the end user has to fill in the connect pages, from the start of the connect. */
export const PENDING_CONNECT_TTL_SECONDS = 900;
const KEY_PREFIX = "connect:pending:";
const SEAL_FIELD = "PendingConnect";
const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** The app's authorization request and the chosen connector, as the connect session keeps them. */
export type ConnectRequest = Omit<NewConnectSession, "id" | "upstream" | "hostname" | "pinnedAddress">;

/** What a connect has learned so far. */
export interface ConnectProgress {
  authorization: ConnectRequest;
  /** Per-server connectors: the checked hostname (with its port, if typed). */
  hostname?: string;
  /** The address `hostname` was checked to resolve to: every request to that host goes there. */
  pinnedAddress?: string;
}

/** The broker pages a connect may wait on. */
export type PendingStep = "hostname" | "credentials";

export interface FormProblem {
  message: string;
  /** The field it is about; absent: the form as a whole. */
  field?: string;
}

export interface PendingConnect extends ConnectProgress {
  id: string;
  step: PendingStep;
  problem?: FormProblem;
  /** Values of non-secret fields as typed, to fill the form again after a problem. */
  values?: Record<string, string>;
  /** SHA-256 of the browser-binding cookie. */
  bindingHash: string;
  createdAt: number;
}

function cookieName(id: string): string {
  return `ab_pending_${id}`;
}

export function isPendingId(value: unknown): value is string {
  return typeof value === "string" && ID_PATTERN.test(value);
}

function remainingMs(pending: Pick<PendingConnect, "createdAt">): number {
  return pending.createdAt + PENDING_CONNECT_TTL_SECONDS * 1000 - Date.now();
}

async function write(redis: Redis, keyring: Keyring, pending: PendingConnect): Promise<void> {
  const ttl = remainingMs(pending);
  if (ttl <= 0) return;
  await redis.set(KEY_PREFIX + pending.id, keyring.sealJson(pending, { rowId: pending.id, field: SEAL_FIELD }), "PX", ttl);
}

/** Starts waiting on a page: stores the pending connect and gives this browser its binding cookie. */
export async function createPending(
  redis: Redis,
  keyring: Keyring,
  res: Response,
  progress: ConnectProgress,
  step: PendingStep,
  secureCookies: boolean,
): Promise<PendingConnect> {
  const id = generateSecret().slice(0, 22);
  const binding = generateSecret();
  const pending: PendingConnect = { ...progress, id, step, bindingHash: hashSecret(binding), createdAt: Date.now() };
  await write(redis, keyring, pending);
  res.cookie(cookieName(id), binding, {
    httpOnly: true,
    // Lax: sent with the top-level GET of the form page; a cross-site POST goes without it (and is refused).
    sameSite: "lax",
    secure: secureCookies,
    path: "/connect",
    maxAge: PENDING_CONNECT_TTL_SECONDS * 1000,
  });
  return pending;
}

/** Saves what changed (the step, the problem to show) without extending the connect's lifetime. */
export function updatePending(redis: Redis, keyring: Keyring, pending: PendingConnect): Promise<void> {
  return write(redis, keyring, pending);
}

export type ReadPending = { pending: PendingConnect; binding: string | undefined } | undefined;

/**
 * Reads a pending connect and this request's binding cookie — the cookie's
 * value when it is the one the connect was started with, else undefined.
 */
export async function readPending(redis: Redis, keyring: Keyring, req: Request, id: string): Promise<ReadPending> {
  const sealed = await redis.get(KEY_PREFIX + id);
  if (!sealed) return undefined;
  const pending = keyring.openJson<PendingConnect>(sealed, { rowId: id, field: SEAL_FIELD });
  const cookie = readCookie(req, cookieName(id));
  return { pending, binding: cookie !== undefined && secretMatches(cookie, pending.bindingHash) ? cookie : undefined };
}

/**
 * Takes a pending connect once (GETDEL): of two submissions of the same
 * form, one connects and the other finds nothing. `putBack` restores it
 * when the submission failed in a way the end user can fix.
 */
export async function takePending(redis: Redis, id: string): Promise<boolean> {
  return (await redis.getdel(KEY_PREFIX + id)) !== null;
}

export function putBackPending(redis: Redis, keyring: Keyring, pending: PendingConnect): Promise<void> {
  return write(redis, keyring, pending);
}

/** Forgets the browser's cookie for a finished connect. */
export function clearPendingCookie(res: Response, id: string): void {
  res.clearCookie(cookieName(id), { path: "/connect" });
}
