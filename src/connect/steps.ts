/**
 * The steps of a connect once the service is chosen (start.ts), whatever
 * its kind:
 *
 * 1. a per-server connector needs its hostname, typed or confirmed on the
 *    hostname page (a `hostname=` parameter of the authorization request
 *    only fills it in), checked and resolved (hostname.ts);
 * 2. a kind with an upstream sign-in page (oauth2, oidc) sends the end
 *    user there — the callback finishes;
 * 3. a kind that needs something typed (basic/api_key fields, a password
 *    grant's name and password, a jwt_bearer subject) shows the
 *    credential page, and its submission finishes;
 * 4. a kind that needs nothing (client_credentials, a jwt_bearer connector
 *    without a subject) gets its tokens and finishes at once.
 *
 * Which of 2–4 applies is asked of the kind through its capabilities.
 */
import { CREDENTIALS_PAGE, HOSTNAME_PAGE } from "../paths.js";
import type { Request } from "express";
import { storeConnectedAccount } from "../accounts/accounts.js";
import type { StoredTokens } from "../accounts/vault.js";
import { buildKindContext } from "../connectors/context.js";
import { FormValuesRejected, UpstreamInvalidGrant } from "../connectors/errors.js";
import { checkTypedValues } from "../connectors/kinds/prompt-fields.js";
import {
  isPasswordExchanger,
  isRedirectAuthorizer,
  isServiceTokenFetcher,
  isStaticCredentialChecker,
  type AuthKind,
  type KindContext,
  type PromptField,
  type UpstreamIdentity,
} from "../connectors/kinds/types.js";
import type { ConnectorConfig } from "../connectors/schema.js";
import { isPerServer } from "../connectors/template.js";
import { InvalidRequest } from "../errors.js";
import type { CheckedAddress } from "../net/outbound.js";
import { interactionsOf } from "../oauth/interactions.js";
import type { Services } from "../services.js";
import { newUpstreamState, type ConnectAttempt, type ConnectStep } from "./attempt.js";
import { HOSTNAME_FIELD } from "./hostname.js";

/** What connecting an account yields before it is stored: sealed credentials and who they belong to. */
export interface ConnectedGrant {
  tokens: StoredTokens;
  identity: UpstreamIdentity;
}

/** A connect page's form for a kind: the inputs, and what a submission does with them. */
export interface ConnectForm {
  fields: PromptField[];
  submit(ctx: KindContext, values: Record<string, string>): Promise<ConnectedGrant>;
}

/** The form a kind connects with, asked of its capabilities; undefined for a kind that redirects. */
export function connectFormFor(kind: AuthKind, connector: ConnectorConfig): ConnectForm | undefined {
  if (isRedirectAuthorizer(kind)) return undefined;
  if (isStaticCredentialChecker(kind)) {
    return {
      fields: kind.credentialFields(connector),
      // What the upstream accepted is what the account keeps (sealed); the check's answer says whose it is.
      submit: async (ctx, values) => {
        // A key exchanged for a session token (auth.session): the login is the check, and its token is kept beside the key.
        const session = await kind.startSession?.(ctx, values);
        if (session) return { tokens: { ...session.tokens, fields: values }, identity: session.identity };
        return { tokens: { fields: values }, identity: await kind.checkCredentials(ctx, values) };
      },
    };
  }
  if (isPasswordExchanger(kind)) {
    // RFC 6749 §4.3.2: the password is used for this one request; only the tokens are kept.
    return { fields: kind.passwordFields(connector), submit: (ctx, values) => kind.exchangePassword(ctx, values.username ?? "", values.password ?? "") };
  }
  if (isServiceTokenFetcher(kind)) {
    const fields = kind.subjectFields(connector);
    const subject = fields[0];
    return {
      fields,
      submit: async (ctx, values) => {
        try {
          return await kind.fetchServiceGrant(ctx, subject ? values[subject.name] : undefined);
        } catch (err) {
          // With a typed subject, a refused grant most likely means the subject is not one the upstream knows.
          if (subject && err instanceof UpstreamInvalidGrant)
            throw new FormValuesRejected(`${connector.name} refused access for this ${subject.label}. Check it and try again.`, subject.name, {
              detail: err.detail,
            });
          throw err;
        }
      },
    };
  }
  throw new InvalidRequest(`connector "${connector.id}" (${connector.auth.kind}) cannot be connected by this broker`);
}

export function pageUrl(page: string, attemptId: string): string {
  return `${page}?connect=${encodeURIComponent(attemptId)}`;
}

/** The page of a step. */
export function pageForStep(step: ConnectStep): string {
  return step === "hostname" ? HOSTNAME_PAGE : CREDENTIALS_PAGE;
}

export function pinnedOf(address: string | undefined): CheckedAddress | undefined {
  if (!address) return undefined;
  return { address, family: address.includes(":") ? 6 : 4 };
}

export function contextFor(services: Services, connector: ConnectorConfig, attempt: ConnectAttempt): Promise<KindContext> {
  return buildKindContext(services, {
    connector,
    appId: attempt.authorization.clientId,
    upstreamScopes: attempt.progress.upstreamScopes,
    hostname: attempt.progress.hostname,
    pinned: pinnedOf(attempt.progress.pinnedAddress),
  });
}

/** Sends the end user to the upstream sign-in page, keeping the checks of the request in the attempt for the callback. */
async function redirectUpstream(services: Services, connector: ConnectorConfig, attempt: ConnectAttempt): Promise<string> {
  const kind = services.kinds.for(connector);
  if (!isRedirectAuthorizer(kind)) throw new TypeError(`connector "${connector.id}" has no upstream sign-in page`);
  const state = newUpstreamState(attempt.id);
  const { url, checks } = await kind.authorizationRequest(await contextFor(services, connector, attempt), state);
  attempt.progress = {
    ...attempt.progress,
    step: undefined,
    problem: undefined,
    values: undefined,
    upstream: { state, nonce: checks.nonce, codeVerifier: checks.codeVerifier },
  };
  await interactionsOf(services).save(attempt);
  return url.toString();
}

/** Stores the account a connect ended with, with its sealed credentials, and plans its refresh; returns its id. */
export async function storeAccountOf(
  services: Services,
  req: Request,
  connector: ConnectorConfig,
  attempt: ConnectAttempt,
  grant: ConnectedGrant,
): Promise<string> {
  const account = await storeConnectedAccount(
    services,
    {
      appId: attempt.authorization.clientId,
      connectorId: connector.id,
      hostname: attempt.progress.hostname,
      pinnedAddress: attempt.progress.pinnedAddress,
      identity: grant.identity,
      scopes: grant.tokens.scope ? grant.tokens.scope.split(/[\s,]+/).filter(Boolean) : attempt.progress.upstreamScopes,
      tokens: grant.tokens,
      requestId: req.id,
      refreshMarginSeconds: connector.refresh.marginSeconds,
      // Connect on demand: the account joins the ticket's user (never moved from another: accounts.ts).
      ...(attempt.authorization.onDemand ? { userId: attempt.authorization.onDemand.userId } : {}),
    },
    req.log,
  );
  return account.id;
}

/** Where a step leads: a page or the upstream (redirect), or a connected account (the app gets its answer). */
export type ConnectOutcome = { kind: "redirect"; url: string } | { kind: "connected"; accountId: string };

/** Waits on a broker page: the attempt says which, with what to show there. */
async function waitOn(services: Services, attempt: ConnectAttempt, step: ConnectStep, values?: Record<string, string>): Promise<ConnectOutcome> {
  attempt.progress = { ...attempt.progress, step, problem: undefined, values };
  await interactionsOf(services).save(attempt);
  return { kind: "redirect", url: pageUrl(pageForStep(step), attempt.id) };
}

/**
 * The next step of a connect from what it has learned so far (saved in the
 * attempt). A `hostname=` of the authorization request only fills the
 * hostname page in: the end user sees the server a link names and confirms
 * it before anything is sent there (a link must not choose the server an
 * end user signs in at, nor where the broker sends its credentials).
 * `taken`: the caller took the attempt (single use) — a kind that connects
 * at once may only run then, so two requests never connect twice.
 */
export async function continueConnect(
  services: Services,
  req: Request,
  connector: ConnectorConfig,
  attempt: ConnectAttempt,
  taken: boolean,
): Promise<ConnectOutcome> {
  if (isPerServer(connector) && attempt.progress.hostname === undefined) {
    const hint = attempt.hostnameHint;
    return waitOn(services, attempt, "hostname", hint === undefined ? undefined : { [HOSTNAME_FIELD]: hint.slice(0, 300) });
  }
  const form = connectFormFor(services.kinds.for(connector), connector);
  if (!form) return { kind: "redirect", url: await redirectUpstream(services, connector, attempt) };
  if (form.fields.length > 0) return waitOn(services, attempt, "credentials");
  // Nothing to ask: the kind's own token (client_credentials), now, once.
  if (!taken && !(await interactionsOf(services).take(req, attempt.id))) throw new InvalidRequest("this connection was already used");
  const grant = await form.submit(await contextFor(services, connector, attempt), {});
  return { kind: "connected", accountId: await storeAccountOf(services, req, connector, attempt, grant) };
}

/** Runs a form's own checks and then its submission. */
export async function submitForm(
  services: Services,
  connector: ConnectorConfig,
  attempt: ConnectAttempt,
  values: Record<string, string>,
): Promise<ConnectedGrant> {
  const kind = services.kinds.for(connector);
  const form = connectFormFor(kind, connector);
  if (!form) throw new TypeError(`connector "${connector.id}" connects through an upstream sign-in page, not a form`);
  checkTypedValues(form.fields, values);
  return form.submit(await contextFor(services, connector, attempt), values);
}
