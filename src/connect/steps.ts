/**
 * The steps of a connect once the connector is chosen, whatever its kind:
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
import type { Request, Response } from "express";
import { connectAccount } from "../accounts/accounts.js";
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
import { finishAuthorization } from "../oauth/authorization-response.js";
import type { Services } from "../services.js";
import { HOSTNAME_FIELD } from "./hostname.js";
import { createPending, updatePending, type ConnectProgress, type PendingConnect } from "./pending.js";
import { newSessionId, newUpstreamState, saveSession } from "./session.js";

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
      submit: async (ctx, values) => ({ tokens: { fields: values }, identity: await kind.checkCredentials(ctx, values) }),
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

export function pageUrl(page: string, pendingId: string): string {
  return `${page}?connect=${encodeURIComponent(pendingId)}`;
}

export function pinnedOf(address: string | undefined): CheckedAddress | undefined {
  if (!address) return undefined;
  return { address, family: address.includes(":") ? 6 : 4 };
}

export function contextFor(services: Services, connector: ConnectorConfig, progress: ConnectProgress): Promise<KindContext> {
  return buildKindContext(services, {
    connector,
    appId: progress.authorization.clientId,
    upstreamScopes: progress.authorization.upstreamScopes,
    hostname: progress.hostname,
    pinned: pinnedOf(progress.pinnedAddress),
  });
}

function secureCookies(services: Services): boolean {
  return services.config.issuer.startsWith("https:");
}

/** Sends the end user to the upstream sign-in page, remembering the checks in a connect session for the callback. */
async function redirectUpstream(services: Services, res: Response, connector: ConnectorConfig, progress: ConnectProgress): Promise<string> {
  const kind = services.kinds.for(connector);
  if (!isRedirectAuthorizer(kind)) throw new TypeError(`connector "${connector.id}" has no upstream sign-in page`);
  const sessionId = newSessionId();
  const state = newUpstreamState(sessionId);
  const { url, checks } = await kind.authorizationRequest(await contextFor(services, connector, progress), state);
  await saveSession(
    services.redis,
    services.keyring,
    res,
    {
      ...progress.authorization,
      id: sessionId,
      hostname: progress.hostname,
      pinnedAddress: progress.pinnedAddress,
      upstream: { state, nonce: checks.nonce, codeVerifier: checks.codeVerifier },
    },
    secureCookies(services),
  );
  return url.toString();
}

/** Stores the connected account with its sealed credentials and plans its refresh; returns its id. */
export async function storeConnectedAccount(
  services: Services,
  req: Request,
  connector: ConnectorConfig,
  progress: ConnectProgress,
  grant: ConnectedGrant,
): Promise<string> {
  const { authorization } = progress;
  const account = await connectAccount(services.db, services.keyring, {
    appId: authorization.clientId,
    connectorId: connector.id,
    hostname: progress.hostname,
    pinnedAddress: progress.pinnedAddress,
    identity: grant.identity,
    scopes: grant.tokens.scope ? grant.tokens.scope.split(/[\s,]+/).filter(Boolean) : authorization.upstreamScopes,
    tokens: grant.tokens,
    requestId: req.id?.toString(),
  });
  req.log.info({ clientId: authorization.clientId, connectorId: connector.id, accountId: account.id, created: account.created }, "account connected");
  // Scheduling failures must not fail the connect: the reconciler plans every active account's refresh.
  await services.queues
    .scheduleRefresh(account.id, account.credentialExpiresAt, connector.refresh.marginSeconds)
    .catch((err: Error) => req.log.warn({ accountId: account.id, err: { message: err.message } }, "could not schedule the refresh; the reconciler will"));
  return account.id;
}

/** Where a step leads: a page or the upstream (redirect), or a connected account (the app gets its answer). */
export type ConnectOutcome =
  | {
      kind: "redirect";
      url: string;
      /** The URL is a page of the same pending connect: its cookie must stay. */
      keepsPending?: boolean;
    }
  | { kind: "connected"; accountId: string };

/** Waits on a broker page: stores a new pending connect (and its browser cookie). */
async function waitOn(
  services: Services,
  res: Response,
  progress: ConnectProgress,
  step: PendingConnect["step"],
  shown: Pick<PendingConnect, "problem" | "values"> = {},
): Promise<ConnectOutcome> {
  const pending = await createPending(services.redis, services.keyring, res, progress, step, secureCookies(services));
  if (shown.problem || shown.values) await updatePending(services.redis, services.keyring, { ...pending, ...shown });
  return { kind: "redirect", url: pageUrl(step === "hostname" ? HOSTNAME_PAGE : CREDENTIALS_PAGE, pending.id) };
}

/**
 * The next step of a connect from what it has learned so far. `pending` is
 * the pending connect the request came from, if any: a page that follows
 * reuses it (same cookie and CSRF binding).
 */
export async function continueConnect(
  services: Services,
  req: Request,
  res: Response,
  connector: ConnectorConfig,
  progress: ConnectProgress,
  pending?: PendingConnect,
): Promise<ConnectOutcome> {
  if (isPerServer(connector) && progress.hostname === undefined) {
    return waitOn(services, res, progress, "hostname");
  }
  const kind = services.kinds.for(connector);
  const form = connectFormFor(kind, connector);
  if (!form) return { kind: "redirect", url: await redirectUpstream(services, res, connector, progress) };
  if (form.fields.length > 0) {
    if (!pending) return waitOn(services, res, progress, "credentials");
    await updatePending(services.redis, services.keyring, { ...pending, ...progress, step: "credentials", problem: undefined, values: undefined });
    return { kind: "redirect", url: pageUrl(CREDENTIALS_PAGE, pending.id), keepsPending: true };
  }
  // Nothing to ask: the kind's own token (client_credentials), now.
  const grant = await form.submit(await contextFor(services, connector, progress), {});
  return { kind: "connected", accountId: await storeConnectedAccount(services, req, connector, progress, grant) };
}

/**
 * Starts the steps for an authorization request. Returns the URL to send
 * the browser to, or undefined when the account is already connected and
 * the app's response was sent. A `hostname=` for a per-server connector
 * only fills the hostname page in: the end user sees the server a link
 * names and confirms it before anything is sent there (a link must not
 * choose the server an end user signs in at, nor where the broker sends
 * its credentials).
 */
export async function startConnect(
  services: Services,
  req: Request,
  res: Response,
  connector: ConnectorConfig,
  authorization: ConnectProgress["authorization"],
  typedHostname?: string,
): Promise<string | undefined> {
  const progress: ConnectProgress = { authorization };
  const outcome =
    isPerServer(connector) && typedHostname !== undefined
      ? await waitOn(services, res, progress, "hostname", { values: { [HOSTNAME_FIELD]: typedHostname.slice(0, 300) } })
      : await continueConnect(services, req, res, connector, progress);
  if (outcome.kind === "redirect") return outcome.url;
  await finishAuthorization(services, req, res, authorization, outcome.accountId);
  return undefined;
}

/** Runs a form's own checks and then its submission. */
export async function submitForm(
  services: Services,
  connector: ConnectorConfig,
  progress: ConnectProgress,
  values: Record<string, string>,
): Promise<ConnectedGrant> {
  const kind = services.kinds.for(connector);
  const form = connectFormFor(kind, connector);
  if (!form) throw new TypeError(`connector "${connector.id}" connects through an upstream sign-in page, not a form`);
  checkTypedValues(form.fields, values);
  return form.submit(await contextFor(services, connector, progress), values);
}
