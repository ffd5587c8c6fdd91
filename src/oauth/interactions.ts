/**
 * Interactions: an authorization request in progress while the end user
 * connects an account. As node-oidc-provider's: the authorization endpoint
 * (or the /device page) checks the app's request, stores it here and hands
 * the browser over to the connect flow (`/connect/start`), which has the
 * end user choose a service and connect there, and ends the interaction
 * through this module — `finishInteraction` (the app gets its answer) or
 * `refuseInteraction` (the app gets an error). The authorization server
 * never imports the connect flow; the connect flow asks this interface.
 *
 * One record per attempt, in Redis (shared by every `serve` process),
 * sealed (the connect flow keeps the upstream PKCE verifier in it), for
 * `INTERACTION_TTL_SECONDS` from its start, and bound to the browser that
 * started it by a cookie whose hash it keeps (RFC 9700 §4.7: a code or a
 * form submission from another browser is refused). The connect flow keeps
 * its own progress in `progress`, which this module never reads.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Request, Response } from "express";
import type { Keyring } from "../crypto/keyring.js";
import { generateSecret, hashSecret, secretMatches } from "../crypto/secrets.js";
import { addSetCookie, readCookie } from "../http/cookies.js";
import type { Redis } from "../redis.js";
import type { Services } from "../services.js";
import { finishAuthorization, refuseAuthorization, type PendingAuthorization } from "./authorization-response.js";
import { checkRequestedScopes, isBrokerScope, type RequestedScopes, type ScopedConnector } from "./scopes.js";
import { proxyResourceUri } from "./resources.js";

/** How long the end user has to choose a service and connect, from the authorization request. */
export const INTERACTION_TTL_SECONDS = 900;
const KEY_PREFIX = "interaction:";
const SEAL_FIELD = "Interaction";
const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** The app's request while no service is chosen: what its answer needs, without the scope a connector decides. */
export type InteractionRequest = Omit<PendingAuthorization, "scope" | "connectorId"> & Partial<Pick<PendingAuthorization, "scope" | "connectorId">>;

export interface Interaction<P extends object = object> {
  id: string;
  /** The app's request; `connectorId` and `scope` are set once a service is chosen (chooseConnector). */
  authorization: InteractionRequest;
  /** The scopes as the app asked for them, checked again when a service is chosen (with a resource: as resource-indicators.ts granted them). */
  requestedScopes: string[];
  /** RFC 8707: the name of the resource the tokens are for, shown to the end user with the scopes. */
  resourceName?: string;
  /** A `hostname=` parameter: only fills in the connect flow's hostname page. */
  hostnameHint?: string;
  /** The connect flow's own state (its type is the connect flow's). */
  progress: P;
  /** SHA-256 of the browser-binding cookie. */
  bindingHash: string;
  createdAt: number;
}

/** An interaction whose service is chosen: its authorization is complete. */
export type ChosenInteraction<P extends object = object> = Interaction<P> & { authorization: PendingAuthorization };

export function isChosen<P extends object>(interaction: Interaction<P>): interaction is ChosenInteraction<P> {
  return interaction.authorization.connectorId !== undefined && interaction.authorization.scope !== undefined;
}

/** The cookie binding an interaction to its browser: sent to the connect pages and the callbacks only. */
function cookieName(id: string): string {
  return `ab_connect_${id}`;
}

const COOKIE_PATH = "/connect";

export function isInteractionId(value: unknown): value is string {
  return typeof value === "string" && ID_PATTERN.test(value);
}

/** The interaction id an upstream `state` refers to: the connect flow makes it `<id>.<random>`. */
export function interactionIdFromState(state: string): string | undefined {
  const dot = state.indexOf(".");
  const id = dot === -1 ? "" : state.slice(0, dot);
  return isInteractionId(id) ? id : undefined;
}

function remainingMs(interaction: Pick<Interaction, "createdAt">): number {
  return interaction.createdAt + INTERACTION_TTL_SECONDS * 1000 - Date.now();
}

function setBindingCookie(res: ServerResponse, id: string, value: string, secure: boolean, maxAgeSeconds: number): void {
  const attributes = [`${cookieName(id)}=${encodeURIComponent(value)}`, `Path=${COOKIE_PATH}`, "HttpOnly", "SameSite=Lax", `Max-Age=${maxAgeSeconds}`];
  // Lax: sent with the top-level GET back from the upstream and with the connect pages; a cross-site POST goes without it.
  if (secure) attributes.push("Secure");
  addSetCookie(res, attributes.join("; "));
}

export type ReadInteraction<P extends object> = { interaction: Interaction<P>; binding: string | undefined } | undefined;

/** The one store of interactions (interactionsOf makes it for a broker). */
export class Interactions {
  constructor(
    private readonly redis: Redis,
    private readonly keyring: Keyring,
    /** Cookies only over https when the broker is served over https. */
    private readonly secureCookies: boolean,
  ) {}

  /** Starts an interaction: stores it and gives this browser its binding cookie. */
  async start<P extends object>(
    res: ServerResponse,
    fields: Pick<Interaction<P>, "authorization" | "requestedScopes" | "resourceName" | "hostnameHint" | "progress">,
  ): Promise<Interaction<P>> {
    const id = generateSecret().slice(0, 22);
    const binding = generateSecret();
    const interaction: Interaction<P> = { ...fields, id, bindingHash: hashSecret(binding), createdAt: Date.now() };
    await this.save(interaction);
    setBindingCookie(res, id, binding, this.secureCookies, INTERACTION_TTL_SECONDS);
    return interaction;
  }

  /** Saves what changed, without extending the interaction's lifetime. */
  async save<P extends object>(interaction: Interaction<P>): Promise<void> {
    const ttl = remainingMs(interaction);
    if (ttl <= 0) return;
    await this.redis.set(KEY_PREFIX + interaction.id, this.keyring.sealJson(interaction, { rowId: interaction.id, field: SEAL_FIELD }), "PX", ttl);
  }

  /**
   * Reads an interaction, and this request's binding cookie — its value when
   * it is the one the interaction was started with, else undefined.
   */
  async read<P extends object>(req: IncomingMessage, id: string): Promise<ReadInteraction<P>> {
    return this.opened<P>(req, id, await this.redis.get(KEY_PREFIX + id));
  }

  /**
   * Takes an interaction once (GETDEL): of two submissions, or two arrivals
   * of one upstream response, one goes on and the other finds nothing. A
   * step that fails in a way the end user can fix saves it back.
   */
  async take<P extends object>(req: IncomingMessage, id: string): Promise<ReadInteraction<P>> {
    return this.opened<P>(req, id, await this.redis.getdel(KEY_PREFIX + id));
  }

  /** Forgets this browser's cookie of an ended interaction. */
  forget(res: ServerResponse, id: string): void {
    setBindingCookie(res, id, "", this.secureCookies, 0);
  }

  private opened<P extends object>(req: IncomingMessage, id: string, sealed: string | null): ReadInteraction<P> {
    if (!sealed) return undefined;
    const interaction = this.keyring.openJson<Interaction<P>>(sealed, { rowId: id, field: SEAL_FIELD });
    const cookie = readCookie(req, cookieName(id));
    return { interaction, binding: cookie !== undefined && secretMatches(cookie, interaction.bindingHash) ? cookie : undefined };
  }
}

/** The interaction store of a broker: its Redis and keyring, secure cookies when its issuer is https. */
export function interactionsOf(services: Pick<Services, "redis" | "keyring" | "config">): Interactions {
  return new Interactions(services.redis, services.keyring, services.config.issuer.startsWith("https:"));
}

/**
 * Chooses the service of an interaction: checks the app may use it and the
 * scopes it asked for against what it offers (RFC 6749 §3.3), and records
 * the scope its tokens will carry. Throws the redirectable OAuth error.
 * With a registered resource (RFC 8707) the scopes are the resource's,
 * checked by the authorization endpoint (resource-indicators.ts): none is
 * the connector's, so the connector is asked for its default scopes.
 */
export async function chooseConnector(
  services: Pick<Services, "clients" | "config">,
  interaction: Pick<Interaction, "authorization" | "requestedScopes">,
  connector: ScopedConnector,
): Promise<RequestedScopes> {
  const client = await services.clients.find(interaction.authorization.clientId);
  if (!client) throw new TypeError("the app of an interaction no longer exists");
  const { resource } = interaction.authorization;
  if (resource !== undefined && resource !== proxyResourceUri(services.config.issuer)) {
    const all = [...interaction.requestedScopes];
    interaction.authorization = { ...interaction.authorization, connectorId: connector.id, scope: all.join(" ") };
    return { all, broker: all.filter(isBrokerScope), connectorLocal: [] };
  }
  const requested = interaction.requestedScopes.length > 0 ? interaction.requestedScopes : client.scopes.filter((s) => s === "proxy");
  const scopes = checkRequestedScopes(client, requested, connector);
  interaction.authorization = { ...interaction.authorization, connectorId: connector.id, scope: scopes.all.join(" ") };
  return scopes;
}

/** Ends an interaction with a connected account: the app's answer (or the device's approval). */
export function finishInteraction(services: Services, req: Request, res: Response, interaction: ChosenInteraction, accountId: string): Promise<void> {
  interactionsOf(services).forget(res, interaction.id);
  return finishAuthorization(services, req, res, interaction.authorization, accountId);
}

/** Ends an interaction with an error for the app (or, in a device flow, for the end user). */
export function refuseInteraction(
  services: Services,
  req: Request,
  res: Response,
  interaction: Interaction,
  error: { code: string; description: string },
): Promise<void> {
  interactionsOf(services).forget(res, interaction.id);
  return refuseAuthorization(services, req, res, interaction.authorization, error);
}
