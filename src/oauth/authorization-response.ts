/**
 * The end of an authorization: the end user has connected an account (or
 * failed to), and the app gets its answer. One place for every way a
 * connect can end — the upstream callback, and any form that connects an
 * account without an upstream redirect — so each response type, response
 * mode and the device flow behave the same whichever way the account came.
 *
 * - `code` (and the `code` of a hybrid response): a single-use broker code.
 * - `token`: an access token straight through the browser (implicit). RFC
 *   9700 §2.1.2 discourages it, so only apps registered for it get one, it
 *   lives at most `FRONT_CHANNEL_ACCESS_TOKEN_MAX_TTL` seconds, never comes
 *   with a refresh token, and never carries `offline_access`.
 * - `id_token`: an ID token with the request's `nonce`, and `at_hash` /
 *   `c_hash` binding it to the access token / code it travels with (OIDC
 *   Core §3.3.2.11), so neither can be swapped in the front channel.
 * - a device flow (RFC 8628) ends on a broker page, not at the app: the
 *   device code is approved (or denied) and the device's polling does the rest.
 * - a connect on demand ends on a broker page too: the account is stored
 *   for the ticket's user, and the end user returns to their agent, whose
 *   next token exchange finds it.
 */
import type { Request, Response } from "express";
import { generateId } from "../crypto/secrets.js";
import { ServerError } from "../errors.js";
import { html, sendErrorPage, sendPage } from "../http/html.js";
import type { Services } from "../services.js";
import { issueAuthorizationCode } from "./codes.js";
import { appDisplayName, type Client } from "../apps/clients.js";
import { approveDeviceCode, denyDeviceCode } from "./device-codes.js";
import { defaultResponseMode, isResponseMode, sendAuthorizationResponse, type RedirectTarget } from "./response-modes.js";
import { issueAccessToken, issueIdToken } from "./tokens.js";
import { setUserCookie } from "./user-cookie.js";
import { userOf } from "../accounts/users.js";

/**
 * Access tokens sent through the browser live at most this long (or the
 * app's access-token lifetime, if shorter): they may sit in history, logs
 * or an injected script's reach, and cannot be bound to the client.
 */
export const FRONT_CHANNEL_ACCESS_TOKEN_MAX_TTL = 300;

/** What the broker remembered of the app's request while the end user connected (the connect session carries it). */
export interface PendingAuthorization {
  clientId: string;
  redirectUri: string;
  /** Normalised response type ("code", "code id_token"…). */
  responseType: string;
  responseMode: string;
  state?: string;
  nonce?: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
  /** Scope granted to the app's tokens. */
  scope: string;
  /** RFC 8707: the resource the tokens are for (their `aud`); absent: the broker itself. */
  resource?: string;
  connectorId: string;
  /** Device flow: the code this connect approves; there is no redirect to the app. */
  deviceCodeHash?: string;
  /**
   * Connect on demand (connect/on-demand.ts): the account joins this user
   * and the connect ends on a broker page; nothing is sent to the app.
   */
  onDemand?: { userId: string; requestedBy: string };
}

/** Where the response to a pending authorization goes. */
export function responseTargetOf(pending: Pick<PendingAuthorization, "redirectUri" | "state" | "responseMode" | "responseType">): RedirectTarget {
  const responseMode = isResponseMode(pending.responseMode) ? pending.responseMode : defaultResponseMode(pending.responseType);
  return { redirectUri: pending.redirectUri, state: pending.state, responseMode };
}

export function frontChannelAccessTokenTtl(client: Pick<Client, "accessTokenTtl">): number {
  return Math.min(client.accessTokenTtl, FRONT_CHANNEL_ACCESS_TOKEN_MAX_TTL);
}

/** The scope of a front-channel access token: what was granted, less `offline_access` (no refresh token comes this way). */
function frontChannelScope(scope: string): string {
  return scope
    .split(" ")
    .filter((s) => s !== "" && s !== "offline_access")
    .join(" ");
}

/**
 * Issues what the response type asks for, for `accountId`, and returns the
 * response parameters (without `state` and `iss`, which the response mode adds).
 */
export async function issueAuthorizationResponse(services: Services, pending: PendingAuthorization, accountId: string): Promise<Record<string, string>> {
  const client = await services.clients.find(pending.clientId);
  if (!client) throw new ServerError("the app was deleted during the authorization");
  const types = new Set(pending.responseType.split(" "));
  const response: Record<string, string> = {};
  if (types.has("code")) {
    response.code = await issueAuthorizationCode(services.db, {
      appId: client.id,
      accountId,
      redirectUri: pending.redirectUri,
      scope: pending.scope,
      codeChallenge: pending.codeChallenge,
      codeChallengeMethod: pending.codeChallengeMethod,
      nonce: pending.nonce,
      resource: pending.resource,
    });
  }
  if (types.has("token")) {
    const scope = frontChannelScope(pending.scope);
    // A grant of its own, so revoking the account (or this grant) revokes this token too.
    const grantId = generateId("gr", 16);
    await services.db.refreshFamily.create({ data: { id: grantId, appId: client.id, accountId, scope, resource: pending.resource ?? null } });
    const { accessToken, expiresIn } = await issueAccessToken(services, {
      client,
      subject: accountId,
      scope,
      accountId,
      connectorId: pending.connectorId,
      grantId,
      audience: pending.resource,
      ttl: frontChannelAccessTokenTtl(client),
    });
    Object.assign(response, { access_token: accessToken, token_type: "Bearer", expires_in: String(expiresIn), scope });
  }
  if (types.has("id_token")) {
    const account = await services.db.account.findUniqueOrThrow({
      where: { id: accountId },
      select: { id: true, connectorId: true, hostname: true, profile: true },
    });
    response.id_token = await issueIdToken(services, {
      client,
      account,
      scope: pending.scope,
      nonce: pending.nonce,
      authTime: new Date(),
      accessToken: response.access_token,
      code: response.code,
    });
  }
  return response;
}

function sendDeviceApproved(res: Response, appName: string): void {
  sendPage(res, {
    title: "Device connected",
    body: html`<h1>You're all set</h1>
      <p>Your account is connected to <strong>${appName}</strong>. Return to your device; it continues by itself.</p>
      <p class="muted">You can close this window.</p>`,
  });
}

function sendConnectedOnDemand(res: Response, connectorName: string, appName: string): void {
  sendPage(res, {
    title: "Account connected",
    body: html`<h1>Your ${connectorName} account is connected</h1>
      <p><strong>${appName}</strong> can now use it for you. You can return to your agent; it continues by itself.</p>
      <p class="muted">You can close this window.</p>`,
  });
}

/**
 * Leaves in this browser the cookie naming the connected account's user
 * (user-cookie.ts): the browser that connects an account for a user is
 * the one a connect-on-demand link for that user may be completed in.
 */
async function rememberBrowserUser(services: Services, res: Response, accountId: string): Promise<void> {
  const account = await services.db.account.findUnique({ where: { id: accountId }, select: { id: true, userId: true, appId: true } });
  if (account) setUserCookie(services, res, account.appId, userOf(account));
}

/**
 * Sends the app its answer now that `accountId` is connected: the response
 * in the request's response mode, or — in a device flow — approves the
 * device code and tells the end user to return to the device.
 */
export async function finishAuthorization(services: Services, req: Request, res: Response, pending: PendingAuthorization, accountId: string): Promise<void> {
  if (pending.deviceCodeHash !== undefined) {
    const approved = await approveDeviceCode(services.db, pending.deviceCodeHash, { id: accountId, connectorId: pending.connectorId });
    if (!approved) {
      sendErrorPage(res, 400, "expired_token", "The code from your device expired before the account was connected. Start again on the device.");
      return;
    }
    req.log.info({ clientId: pending.clientId, accountId }, "device code approved");
    await rememberBrowserUser(services, res, accountId);
    const approvedApp = await services.clients.find(pending.clientId);
    sendDeviceApproved(res, approvedApp ? appDisplayName(approvedApp) : "the app");
    return;
  }
  if (pending.onDemand !== undefined) {
    req.log.info(
      { clientId: pending.clientId, accountId, connectorId: pending.connectorId, requestedBy: pending.onDemand.requestedBy },
      "account connected on demand",
    );
    await rememberBrowserUser(services, res, accountId);
    const app = await services.clients.find(pending.clientId);
    sendConnectedOnDemand(res, services.connectors.get(pending.connectorId)?.name ?? pending.connectorId, app ? appDisplayName(app) : "The app");
    return;
  }
  const parameters = await issueAuthorizationResponse(services, pending, accountId);
  await rememberBrowserUser(services, res, accountId);
  sendAuthorizationResponse(req, res, services.config.issuer, responseTargetOf(pending), parameters);
}

/**
 * Sends the app an error for a pending authorization (it has been checked:
 * the redirect URI is the registered one). In a device flow the end user
 * sees the error; an end user's refusal (`access_denied`) denies the device
 * code, so the device stops polling.
 */
export async function refuseAuthorization(
  services: Services,
  req: Request,
  res: Response,
  pending: Omit<PendingAuthorization, "scope" | "connectorId">,
  error: { code: string; description: string },
): Promise<void> {
  if (pending.deviceCodeHash !== undefined) {
    if (error.code === "access_denied") await denyDeviceCode(services.db, pending.deviceCodeHash);
    sendErrorPage(
      res,
      error.code === "server_error" ? 500 : error.code === "temporarily_unavailable" ? 503 : 400,
      error.code,
      `${error.description}. Return to your device.`,
    );
    return;
  }
  if (pending.onDemand !== undefined) {
    sendErrorPage(
      res,
      error.code === "server_error" ? 500 : error.code === "temporarily_unavailable" ? 503 : error.code === "access_denied" ? 403 : 400,
      error.code,
      `Nothing was connected: ${error.description}. Return to your agent and try again.`,
    );
    return;
  }
  sendAuthorizationResponse(req, res, services.config.issuer, responseTargetOf(pending), { error: error.code, error_description: error.description });
}
