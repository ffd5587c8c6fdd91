/**
 * `GET /connect/start?connect=<id>`: where the authorization endpoint (and
 * the /device page) hand the browser to the connect flow, with the
 * interaction they stored (src/oauth/interactions.ts). Steps: find the
 * attempt (its browser cookie), choose its service — the one the request
 * named, or the end user's pick on the picker (`&connector=`), whose scopes
 * the authorization server checks (chooseConnector) — then the service's
 * first step (steps.ts): a broker page, the upstream's sign-in page, or the
 * account connected at once and the app answered. A failure the app must
 * hear about ends the interaction with an error for it.
 */
import { appDisplayName } from "../apps/clients.js";
import type { Request, Response } from "express";
import { upstreamScopesFor } from "../connectors/scopes.js";
import { InvalidRequest, OAuthError } from "../errors.js";
import { toBrokerError } from "../http/error-handler.js";
import { setPageSecurityHeaders } from "../http/html.js";
import type { ExpressExchange } from "../http/route.js";
import { chooseConnector, finishInteraction, interactionsOf, refuseInteraction } from "../oauth/interactions.js";
import { clientMayUseConnector } from "../oauth/scopes.js";
import type { Services } from "../services.js";
import { isReady, type ConnectAttempt, type ConnectInteraction } from "./attempt.js";
import { scopesShown } from "./consent.js";
import { attemptForRequest } from "./form-page.js";
import { SEARCH_PARAMETER, sendPicker } from "./picker.js";
import { continueConnect, pageForStep, pageUrl } from "./steps.js";

function single(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Shows the picker of the services the app may use. */
async function showPicker(services: Services, req: Request, res: Response, attempt: ConnectInteraction): Promise<void> {
  const client = await services.clients.find(attempt.authorization.clientId);
  if (!client) throw new InvalidRequest("the app was deleted during the authorization");
  sendPicker(res, {
    appName: appDisplayName(client),
    connectors: services.connectors.list().filter((c) => clientMayUseConnector(client, c.id)),
    scopes: scopesShown(attempt.requestedScopes, client.scopes),
    resourceName: attempt.resourceName,
    attemptId: attempt.id,
    search: single(req.query[SEARCH_PARAMETER]),
  });
}

/** Chooses the attempt's service (checked by the authorization server) and learns its upstream scopes. */
async function choose(services: Services, req: Request, attempt: ConnectInteraction, connectorId: string): Promise<ConnectAttempt> {
  const connector = services.connectors.get(connectorId);
  const client = await services.clients.find(attempt.authorization.clientId);
  if (!connector || !client || !clientMayUseConnector(client, connectorId)) throw new InvalidRequest(`unknown connector "${connectorId}"`);
  const scopes = await chooseConnector(services, attempt, connector);
  attempt.progress = { ...attempt.progress, upstreamScopes: upstreamScopesFor(connector, scopes.connectorLocal) };
  req.log.info({ clientId: client.id, connectorId }, "connect started");
  if (!isReady(attempt)) throw new TypeError("a chosen connect attempt has no upstream scopes");
  return attempt;
}

export function connectStart(services: Services): (exchange: ExpressExchange) => Promise<void> {
  return async ({ req, res }) => {
    const found = await attemptForRequest(services, req, res);
    if (!found) return;
    const interaction = found.attempt;
    try {
      const connectorId = interaction.authorization.connectorId ?? single(req.query.connector);
      if (connectorId === undefined) return await showPicker(services, req, res, interaction);
      const attempt = isReady(interaction) ? interaction : await choose(services, req, interaction, connectorId);
      setPageSecurityHeaders(res);
      // Already waiting on a page (a reload, a back button): that page.
      if (attempt.progress.step) return res.redirect(303, pageUrl(pageForStep(attempt.progress.step), attempt.id));
      const connector = services.connectors.get(attempt.authorization.connectorId);
      if (!connector) throw new InvalidRequest(`unknown connector "${attempt.authorization.connectorId}"`);
      const outcome = await continueConnect(services, req, connector, attempt, false);
      if (outcome.kind === "redirect") return res.redirect(302, outcome.url);
      await finishInteraction(services, req, res, attempt, outcome.accountId);
    } catch (err) {
      const error = toBrokerError(err);
      const oauth = error instanceof OAuthError && error.redirectable ? error : undefined;
      if (!oauth) req.log.error({ err, connectorId: interaction.authorization.connectorId }, "connect failed");
      const code = oauth?.code ?? (error.status === 503 ? "temporarily_unavailable" : "server_error");
      const description = oauth?.description ?? (error.expose ? error.description : "the account could not be connected");
      // Ended: the app hears why (a step that connects at once took it already).
      await interactionsOf(services).take(req, interaction.id);
      await refuseInteraction(services, req, res, interaction, { code, description });
    }
  };
}
