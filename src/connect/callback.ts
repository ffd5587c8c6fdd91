/**
 * `GET /connect/callback/<connector>[/<host>]`: the upstream sends the end
 * user back here. Steps: take the connect attempt (once) and check it
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
import { isRedirectAuthorizer } from "../connectors/kinds/types.js";
import { finishInteraction, interactionIdFromState, interactionsOf, refuseInteraction } from "../oauth/interactions.js";
import { isReady, type ConnectAttempt, type ConnectProgress } from "./attempt.js";
import { contextFor, storeAccountOf } from "./steps.js";
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
async function completeConnect(services: Services, req: Request, attempt: ConnectAttempt, upstream: NonNullable<ConnectProgress["upstream"]>): Promise<string> {
  const connector = services.connectors.get(attempt.authorization.connectorId);
  if (!connector) throw new ServerError(`connector "${attempt.authorization.connectorId}" is no longer configured`);
  const error = single(req.query.error);
  if (error !== undefined) throw upstreamError(connector.name, error);
  if (single(req.query.code) === undefined) throw new InvalidRequest(`${connector.name} sent neither a code nor an error`);
  const kind = services.kinds.for(connector);
  if (!isRedirectAuthorizer(kind)) throw new InvalidRequest(`connector "${connector.id}" does not connect through an upstream sign-in page`);
  const callbackUrl = new URL(req.originalUrl, services.config.issuer);
  const grant = await kind.exchangeCode(await contextFor(services, connector, attempt), callbackUrl, upstream);
  return storeAccountOf(services, req, connector, attempt, grant);
}

/**
 * Whether a response arrived at the callback of the upstream its connect
 * attempt went to. Anything else is an authorization response relayed from
 * another upstream's flow (the mix-up attack, RFC 9700 §4.4.1), or a stale link.
 */
function arrivedAtItsCallback(req: Request, attempt: ConnectAttempt): boolean {
  const { connector, host } = req.params as { connector?: string; host?: string };
  return connector === attempt.authorization.connectorId && host === attempt.progress.hostname;
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
    const id = state === undefined ? undefined : interactionIdFromState(state);
    if (state === undefined || id === undefined) {
      sendErrorPage(res, 400, "invalid_request", "This sign-in response is missing its state. Start again from the app.");
      return;
    }
    let taken;
    try {
      // Taken once: a replayed response finds nothing.
      taken = await interactionsOf(services).take<ConnectProgress>(req, id);
    } catch (err) {
      const error = toBrokerError(err);
      req.log.error({ err }, "connect attempt unreadable");
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
    const { interaction: attempt, binding } = taken;
    try {
      const upstream = attempt.progress.upstream;
      // RFC 9700 §4.7: the response must come back to the browser that started the flow, with the state we sent.
      if (binding === undefined) throw new AccessDenied("the connection was started in another browser or its cookie was lost");
      if (!isReady(attempt) || upstream === undefined || !sameString(state, upstream.state)) throw new InvalidRequest("the upstream state does not match");
      if (!arrivedAtItsCallback(req, attempt))
        throw new AccessDenied("the sign-in response arrived at another service's callback than the one the connection was started with");
      const accountId = await completeConnect(services, req, attempt, upstream);
      await finishInteraction(services, req, res, attempt, accountId);
    } catch (err) {
      const error = toBrokerError(err);
      const oauth = error instanceof OAuthError && error.redirectable ? error : undefined;
      if (!oauth) req.log.error({ err, connectorId: attempt.authorization.connectorId }, "connect failed");
      else req.log.info({ err: oauth, connectorId: attempt.authorization.connectorId }, "connect refused");
      const code = oauth?.code ?? (error.status === 503 ? "temporarily_unavailable" : "server_error");
      const description = oauth?.description ?? (error.expose ? error.description : "the account could not be connected");
      await refuseInteraction(services, req, res, attempt, { code, description });
    }
  };
}
