/**
 * Connect tickets: what the broker remembers when it asks an end user to
 * connect an account on demand (a delegated token exchange found no usable
 * account, the proxy found one that needs re-authorization). The ticket's
 * id goes into the URL of the elicitation; the page it opens
 * (connect/on-demand.ts) shows what the ticket says and, once the end user
 * confirms, takes it and runs the connector's ordinary connect flow.
 *
 * Properties (docs/security.md): the id is 256 random bits, the only key to
 * the ticket; Redis keeps it under the id's SHA-256 (a copy of Redis holds
 * no usable link); it lives `CONNECT_TICKET_TTL_SECONDS`; it is taken once
 * (GETDEL), so a link followed twice, or by two browsers, connects once.
 * It names everything the connect may do — the app, the user the account
 * joins, the connector — so nothing on the page can choose another.
 */
import { randomUUID } from "node:crypto";
import { generateSecret, hashSecret } from "../crypto/secrets.js";
import type { Redis } from "../redis.js";
import { ON_DEMAND_CONNECT_PATH } from "../paths.js";

/** How long an end user has to open the link and confirm. */
export const CONNECT_TICKET_TTL_SECONDS = 600;
const KEY_PREFIX = "connect-ticket:";
/** generateSecret(): 32 bytes, base64url. */
const TICKET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface ConnectTicket {
  /** The app the account is connected under (the subject token's app). */
  appId: string;
  /** The user the new account joins (accounts/users.ts). */
  userId: string;
  connectorId: string;
  /** The client whose request needs the account (an agent, an MCP server): named on the page. */
  requestedBy: string;
  /** Per-server connectors: the host of the account to reconnect, offered on the hostname page. */
  hostname?: string;
  /** The elicitation's id (MCP `elicitationId`): opaque to the client, kept for the logs. */
  elicitationId: string;
  createdAt: number;
}

export function isTicketId(value: unknown): value is string {
  return typeof value === "string" && TICKET_PATTERN.test(value);
}

/** Stores a new ticket; returns its id (the secret part of the link). */
export async function createConnectTicket(
  redis: Redis,
  fields: Omit<ConnectTicket, "createdAt" | "elicitationId">,
): Promise<{ id: string; ticket: ConnectTicket }> {
  const id = generateSecret();
  const ticket: ConnectTicket = { ...fields, elicitationId: randomUUID(), createdAt: Date.now() };
  await redis.set(KEY_PREFIX + hashSecret(id), JSON.stringify(ticket), "EX", CONNECT_TICKET_TTL_SECONDS);
  return { id, ticket };
}

/** Reads a ticket without using it (the confirmation page). */
export async function readConnectTicket(redis: Redis, id: string): Promise<ConnectTicket | undefined> {
  if (!isTicketId(id)) return undefined;
  const stored = await redis.get(KEY_PREFIX + hashSecret(id));
  return stored === null ? undefined : (JSON.parse(stored) as ConnectTicket);
}

/** Takes a ticket once: of two confirmations, one gets it and the other nothing. */
export async function takeConnectTicket(redis: Redis, id: string): Promise<ConnectTicket | undefined> {
  if (!isTicketId(id)) return undefined;
  const stored = await redis.getdel(KEY_PREFIX + hashSecret(id));
  return stored === null ? undefined : (JSON.parse(stored) as ConnectTicket);
}

/** The broker page a ticket's link opens. */
export function connectTicketUrl(issuer: string, id: string): string {
  return `${issuer}${ON_DEMAND_CONNECT_PATH}/${id}`;
}

/** MCP URL-mode elicitation parameters (ElicitRequestURLParams): what a client shows the end user. */
export interface UrlElicitation {
  mode: "url";
  elicitationId: string;
  url: string;
  message: string;
}

/** A ticket and the elicitation that sends the end user to it. */
export async function connectElicitation(
  services: { redis: Redis; config: { issuer: string } },
  fields: Omit<ConnectTicket, "createdAt" | "elicitationId">,
  message: string,
): Promise<UrlElicitation> {
  const { id, ticket } = await createConnectTicket(services.redis, fields);
  return { mode: "url", elicitationId: ticket.elicitationId, url: connectTicketUrl(services.config.issuer, id), message };
}
