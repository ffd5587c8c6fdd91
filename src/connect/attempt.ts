/**
 * A connect attempt: the connect flow's view of an interaction
 * (src/oauth/interactions.ts, the one store of authorization requests in
 * progress) — the app's request, and what the connect has learned so far,
 * kept in the interaction's `progress`: the upstream scopes, the checked
 * hostname of a per-server connector and the address it resolved to, the
 * broker page it waits on and the problem to show there, and the upstream
 * leg's own `state`, `nonce` and PKCE verifier. Nothing secret the end user
 * types is ever kept here: only values of non-secret fields, to fill a form
 * again after a problem.
 */
import { generateSecret } from "../crypto/secrets.js";
import type { ChosenInteraction, Interaction } from "../oauth/interactions.js";

/** The broker pages a connect may wait on. */
export type ConnectStep = "hostname" | "credentials";

export interface FormProblem {
  message: string;
  /** The field it is about; absent: the form as a whole. */
  field?: string;
}

export interface ConnectProgress {
  /** The upstream scope strings to ask for, once a service is chosen. */
  upstreamScopes?: string[];
  /** Per-server connectors: the checked hostname (with its port, if typed). */
  hostname?: string;
  /** The address `hostname` was checked to resolve to: every request to that host goes there. */
  pinnedAddress?: string;
  /** The broker page the connect waits on. */
  step?: ConnectStep;
  problem?: FormProblem;
  /** Values of non-secret fields as typed, to fill the form again after a problem. */
  values?: Record<string, string>;
  /** The upstream leg: checks of the authorization request sent upstream, for its callback. */
  upstream?: { state: string; nonce?: string; codeVerifier?: string };
}

/** An interaction as the connect flow reads it, service not yet chosen. */
export type ConnectInteraction = Interaction<ConnectProgress>;

/** An interaction whose service is chosen and whose upstream scopes are known. */
export type ConnectAttempt = ChosenInteraction<ConnectProgress> & { progress: ConnectProgress & { upstreamScopes: string[] } };

export function isReady(interaction: ConnectInteraction): interaction is ConnectAttempt {
  return (
    interaction.authorization.connectorId !== undefined && interaction.authorization.scope !== undefined && interaction.progress.upstreamScopes !== undefined
  );
}

/** A new upstream `state`: the interaction's id (so the callback finds it), then 256 random bits. */
export function newUpstreamState(interactionId: string): string {
  return `${interactionId}.${generateSecret()}`;
}
