/**
 * Starts a connect that ends on one of the broker's own pages (the device
 * page, the on-demand page) rather than at an app: an interaction like an
 * authorization request's whose redirect URI is that page. Nothing is ever
 * sent to it; authorization-response.ts ends such a flow by its marker
 * (`deviceCodeHash`, `onDemand`). On success the browser goes on to the
 * connect flow; a failure is an error page.
 */
import type { Request, Response } from "express";
import { toBrokerError } from "../http/error-handler.js";
import { sendErrorPage } from "../http/html.js";
import { chooseConnector, interactionsOf, type InteractionRequest } from "../oauth/interactions.js";
import type { ScopedConnector } from "../oauth/scopes.js";
import { CONNECT_START_PATH } from "../paths.js";
import type { Services } from "../services.js";

export interface BrokerEndedConnect {
  clientId: string;
  /** The broker page the flow belongs to (its redirect URI, never redirected to). */
  pagePath: string;
  /** What ends the flow on that page instead of a response to the app. */
  marker: Pick<InteractionRequest, "deviceCodeHash" | "onDemand">;
  requestedScopes: string[];
  hostnameHint?: string;
  connector: ScopedConnector;
  /** Names the flow in the log line of a failure ("device connect"). */
  flow: string;
  /** The error page's text when the failure is the broker's own (not an exposed error). */
  failureDescription: string;
}

/** Whether the connect started (the browser was sent on); otherwise an error page was answered. */
export async function startBrokerEndedConnect(services: Services, req: Request, res: Response, start: BrokerEndedConnect): Promise<boolean> {
  try {
    const fields = {
      authorization: {
        clientId: start.clientId,
        redirectUri: `${services.config.issuer}${start.pagePath}`,
        responseType: "code",
        responseMode: "query",
        ...start.marker,
      },
      requestedScopes: start.requestedScopes,
      ...(start.hostnameHint ? { hostnameHint: start.hostnameHint } : {}),
      progress: {},
    };
    // Scopes are checked against the chosen connector, as for an authorization request naming it.
    await chooseConnector(services, fields, start.connector);
    const interaction = await interactionsOf(services).start(res, fields);
    res.redirect(303, `${CONNECT_START_PATH}?connect=${interaction.id}`);
    return true;
  } catch (err) {
    const error = toBrokerError(err);
    if (!error.expose || error.status >= 500) req.log.error({ err, connectorId: start.connector.id }, `${start.flow} could not start`);
    sendErrorPage(
      res,
      error.expose ? error.status : 500,
      error.expose ? error.code : "server_error",
      error.expose ? error.description : start.failureDescription,
    );
    return false;
  }
}
