/**
 * `GET /connect/callback/<connector>[/<host>]`: the upstream sends the end
 * user back here. Steps: take the connect session (once) and check it
 * belongs to this browser, this state and this callback (each upstream has
 * its own: context.ts callbackPathFor), turn an upstream error into the
 * app's error, exchange the upstream code (openid-client checks `iss` where
 * the upstream sends one, RFC 9207), learn who connected, store the account
 * with its sealed tokens, and send the app the broker's own single-use code.
 */
import { CALLBACK_PATH } from "../paths.js";
import type { Request, Response } from "express";
import type { ExpressExchange } from "../http/route.js";
import { AccessDenied, InvalidRequest, OAuthError, ServerError, TemporarilyUnavailable } from "../errors.js";
import { toBrokerError } from "../http/error-handler.js";
import { sendErrorPage } from "../http/html.js";
import type { Services } from "../services.js";
import { connectAccount } from "../accounts/accounts.js";
import { finishAuthorization, refuseAuthorization } from "../oauth/authorization-response.js";
import { sessionIdFromState, takeSession, type ConnectSession } from "./session.js";
import { kindContext, redirectAuthorizerFor } from "./upstream.js";
import { timingSafeEqual } from "node:crypto";

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function single(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Upstream authorization errors the app is told about by name; anything else is the upstream's failure. */
function upstreamError(connectorName: string, code: string): OAuthError {
  if (code === "access_denied") return new AccessDenied(`the end user denied access at ${connectorName}`);
  if (code === "temporarily_unavailable") return new TemporarilyUnavailable(`${connectorName} is temporarily unavailable`);
  return new ServerError(`${connectorName} refused the authorization request (${code.slice(0, 64)})`);
}

/** Connects the account the upstream vouched for; returns its id. */
async function completeConnect(services: Services, req: Request, session: ConnectSession): Promise<string> {
  const connector = services.connectors.get(session.connectorId);
  if (!connector) throw new ServerError(`connector "${session.connectorId}" is no longer configured`);
  const error = single(req.query.error);
  if (error !== undefined) throw upstreamError(connector.name, error);
  if (single(req.query.code) === undefined) throw new InvalidRequest(`${connector.name} sent neither a code nor an error`);

  const authorizer = redirectAuthorizerFor(services, connector);
  const context = await kindContext(services, connector, session.clientId, session.upstreamScopes, session.hostname, session.pinnedAddress);
  const callbackUrl = new URL(req.originalUrl, services.config.issuer);
  const grant = await authorizer.exchangeCode(context, callbackUrl, session.upstream);

  const account = await connectAccount(services.db, services.keyring, {
    appId: session.clientId,
    connectorId: connector.id,
    hostname: session.hostname,
    pinnedAddress: session.pinnedAddress,
    identity: grant.identity,
    scopes: grant.tokens.scope ? grant.tokens.scope.split(/[\s,]+/).filter(Boolean) : session.upstreamScopes,
    tokens: grant.tokens,
    requestId: req.id?.toString(),
  });
  req.log.info({ clientId: session.clientId, connectorId: connector.id, accountId: account.id, created: account.created }, "account connected");
  // Scheduling failures must not fail the connect: the reconciler plans every active account's refresh.
  await services.queues
    .scheduleRefresh(account.id, account.credentialExpiresAt, connector.refresh?.marginSeconds)
    .catch((err: Error) => req.log.warn({ accountId: account.id, err: { message: err.message } }, "could not schedule the refresh; the reconciler will"));
  return account.id;
}

/**
 * Whether a response arrived at the callback of the upstream its connect
 * attempt went to. Anything else is an authorization response relayed from
 * another upstream's flow (the mix-up attack, RFC 9700 §4.4.1), or a stale link.
 */
function arrivedAtItsCallback(req: Request, session: ConnectSession): boolean {
  const { connector, host } = req.params as { connector?: string; host?: string };
  return connector === session.connectorId && host === session.hostname;
}

/** The callback of earlier versions, one for every upstream: its responses are refused with the way out for the operator. */
function refuseSharedCallback(services: Services, req: Request, res: Response): void {
  req.log.warn("an upstream sent the end user to /connect/callback: its registered redirect URI must be updated to /connect/callback/<connector>");
  sendErrorPage(
    res,
    400,
    "invalid_request",
    `This service sent you back to an old address of the broker. The broker's operator must update the redirect URI registered at the service to ${services.config.issuer}${CALLBACK_PATH}/<connector>. Start again from the app.`,
  );
}

/** `GET /connect/callback`: the single callback of earlier versions. */
export function sharedCallbackEndpoint(services: Services): (exchange: ExpressExchange) => void {
  return ({ req, res }) => refuseSharedCallback(services, req, res);
}

/** `GET /connect/callback/<connector>[/<host>]`. */
export function callbackEndpoint(services: Services): (exchange: ExpressExchange) => Promise<void> {
  return async ({ req, res }) => {
    const state = single(req.query.state);
    const sessionId = state === undefined ? undefined : sessionIdFromState(state);
    if (state === undefined || sessionId === undefined) {
      sendErrorPage(res, 400, "invalid_request", "This sign-in response is missing its state. Start again from the app.");
      return;
    }
    let taken;
    try {
      taken = await takeSession(services.redis, services.keyring, req, res, sessionId);
    } catch (err) {
      const error = toBrokerError(err);
      req.log.error({ err }, "connect session unreadable");
      sendErrorPage(
        res,
        error.status === 503 ? 503 : 500,
        error.status === 503 ? "temporarily_unavailable" : "server_error",
        "The broker could not read this sign-in session. Start again from the app.",
      );
      return;
    }
    if (!taken) {
      sendErrorPage(res, 400, "invalid_request", "This sign-in session has expired or was already used. Start again from the app.");
      return;
    }
    const { session, boundToBrowser } = taken;
    try {
      // RFC 9700 §4.7: the response must come back to the browser that started the flow, with the state we sent.
      if (!boundToBrowser) throw new AccessDenied("the connection was started in another browser or its cookie was lost");
      if (!sameString(state, session.upstream.state)) throw new InvalidRequest("the upstream state does not match");
      if (!arrivedAtItsCallback(req, session))
        throw new AccessDenied("the sign-in response arrived at another service's callback than the one the connection was started with");
      const accountId = await completeConnect(services, req, session);
      await finishAuthorization(services, req, res, session, accountId);
    } catch (err) {
      const error = toBrokerError(err);
      const oauth = error instanceof OAuthError && error.redirectable ? error : undefined;
      if (!oauth) req.log.error({ err, connectorId: session.connectorId }, "connect failed");
      else req.log.info({ err: oauth, connectorId: session.connectorId }, "connect refused");
      const code = oauth?.code ?? (error.status === 503 ? "temporarily_unavailable" : "server_error");
      const description = oauth?.description ?? (error.expose ? error.description : "the account could not be connected");
      await refuseAuthorization(services, req, res, session, { code, description });
    }
  };
}
