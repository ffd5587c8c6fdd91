/**
 * `GET|POST /oauth/authorize`: the app's authorization request. Its steps:
 * read the parameters, find the client and its exact redirect URI (errors on
 * a page), check the rest (errors redirected with `state` and `iss`), choose
 * the connector (or show the picker), then send the end user to the upstream
 * through the connect flow.
 */
import type { IncomingMessage } from "node:http";
import type { Request, Response } from "express";
import type { ExpressExchange } from "../http/route.js";
import { OAuthError, InvalidRequest } from "../errors.js";
import { toBrokerError } from "../http/error-handler.js";
import { sendErrorPage, setPageSecurityHeaders } from "../http/html.js";
import type { Services } from "../services.js";
import { beginConnect } from "../connect/begin.js";
import { SEARCH_PARAMETER, sendPicker } from "../connect/picker.js";
import { scopesShown } from "../connect/consent.js";
import { clientMayUseConnector, splitConnectorScope } from "./scopes.js";
import {
  findClientAndRedirect,
  readAuthorizeParameters,
  scopesForConnector,
  validateAuthorizationRequest,
  type RedirectTarget,
  type ValidatedAuthorizationRequest,
} from "./authorization-request.js";
import { errorResponseMode, sendAuthorizationResponse } from "./response-modes.js";

/** Sends an error to the app's redirect URI in the request's response mode (303 after a POST, so the browser does not re-post). */
export function redirectError(req: Request, res: Response, issuer: string, target: RedirectTarget, error: OAuthError): void {
  sendAuthorizationResponse(req, res, issuer, target, { error: error.code, error_description: error.description });
}

/** The connector this request is for: the `connector` parameter, or the one its nested scopes name. */
function chosenConnectorId(request: ValidatedAuthorizationRequest): string | undefined {
  if (request.params.connector) return request.params.connector;
  const named = new Set(
    request.requestedScopes
      .map(splitConnectorScope)
      .filter((s) => s !== undefined)
      .map((s) => s.connectorId),
  );
  return named.size === 1 ? [...named][0] : undefined;
}

/** `GET|POST /oauth/authorize` (no CORS: RFC 9700, the authorization endpoint is for top-level navigation only). */
export function authorizeEndpoint(services: Services): (exchange: ExpressExchange) => Promise<void> {
  const { issuer } = services.config;

  return async ({ req, res }) => {
    const { params, duplicated } = readAuthorizeParameters(req);
    let client, redirectUri;
    try {
      ({ client, redirectUri } = await findClientAndRedirect((id) => services.clients.find(id), params, duplicated));
    } catch (err) {
      const error = toBrokerError(err);
      if (error.status >= 500) req.log.error({ err }, "authorization request failed");
      sendErrorPage(
        res,
        error.status >= 500 ? error.status : 400,
        error.expose ? error.code : "server_error",
        error.expose ? error.description : "internal error",
      );
      return;
    }
    const target: RedirectTarget = { redirectUri, state: params.state, responseMode: errorResponseMode(params.response_type, params.response_mode) };
    try {
      const request = validateAuthorizationRequest(client, redirectUri, params, duplicated);
      const connectorId = chosenConnectorId(request);
      if (connectorId === undefined) {
        sendPicker(res, {
          appName: client.name,
          connectors: services.connectors.list().filter((c) => clientMayUseConnector(client, c.id)),
          scopes: scopesShown(request.requestedScopes, client.scopes),
          params,
          search: typeof req.query[SEARCH_PARAMETER] === "string" ? req.query[SEARCH_PARAMETER] : undefined,
        });
        return;
      }
      const connector = services.connectors.get(connectorId);
      if (!connector || !clientMayUseConnector(client, connectorId)) throw new InvalidRequest(`unknown connector "${connectorId}"`);
      const scopes = scopesForConnector(request, connector);
      const upstreamUrl = await beginConnect(services, req, res, { request, connector, scopes });
      // Undefined: connected at once (client_credentials upstream), and the app's response is sent.
      if (upstreamUrl === undefined) return;
      setPageSecurityHeaders(res);
      res.redirect(req.method === "POST" ? 303 : 302, upstreamUrl);
    } catch (err) {
      const error = toBrokerError(err);
      if (error instanceof OAuthError && error.redirectable) {
        redirectError(req, res, issuer, target, error);
        return;
      }
      // Anything else (a dependency down, a bug) still goes back to the app as
      // server_error / temporarily_unavailable so it can recover; detail is logged.
      req.log.error({ err }, "authorization request failed");
      const code = error.status === 503 ? "temporarily_unavailable" : "server_error";
      sendAuthorizationResponse(req, res, issuer, target, {
        error: code,
        error_description: error.status === 503 ? "the broker is temporarily unavailable" : "internal error",
      });
    }
  };
}

/** The client an authorization request names in its query, before it is checked (for the per-client rate limit). */
export function claimedClientOfAuthorizationRequest(req: IncomingMessage): string | undefined {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  return q === -1 ? undefined : (new URLSearchParams(url.slice(q + 1)).get("client_id") ?? undefined);
}
