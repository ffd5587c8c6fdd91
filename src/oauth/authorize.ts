/**
 * `GET|POST /oauth/authorize`: the app's authorization request. Its steps:
 * read the parameters, find the client and its exact redirect URI (errors on
 * a page), check the rest (errors redirected with `state` and `iss`), check
 * the service it names if it names one, then store the request as an
 * interaction and hand the browser to the connect flow (/connect/start),
 * which ends the interaction with the app's answer (interactions.ts).
 */
import type { IncomingMessage } from "node:http";
import type { Request, Response } from "express";
import type { ExpressExchange } from "../http/route.js";
import { OAuthError, InvalidRequest } from "../errors.js";
import { toBrokerError } from "../http/error-handler.js";
import { sendErrorPage, setPageSecurityHeaders } from "../http/html.js";
import type { Services } from "../services.js";
import { CONNECT_START_PATH } from "../paths.js";
import { resolveClient } from "../apps/metadata-documents.js";
import { chooseConnector, interactionsOf } from "./interactions.js";
import { clientMayUseConnector, splitConnectorScope } from "./scopes.js";
import {
  findClientAndRedirect,
  readAuthorizeParameters,
  validateAuthorizationRequest,
  type RedirectTarget,
  type ValidatedAuthorizationRequest,
} from "./authorization-request.js";
import { errorResponseMode, sendAuthorizationResponse } from "./response-modes.js";
import { resourceScopes, targetResource, type ProtectedResource } from "./resource-indicators.js";

/** Sends an error to the app's redirect URI in the request's response mode (303 after a POST, so the browser does not re-post). */
export function redirectError(req: Request, res: Response, issuer: string, target: RedirectTarget, error: OAuthError): void {
  sendAuthorizationResponse(req, res, issuer, target, { error: error.code, error_description: error.description });
}

/**
 * The connector this request is for: the `connector` parameter, or the one
 * its nested scopes name (not a registered resource's scopes, which name
 * none, whatever they look like).
 */
function chosenConnectorId(request: ValidatedAuthorizationRequest, resource: ProtectedResource | undefined): string | undefined {
  if (request.params.connector) return request.params.connector;
  if (resource && !resource.builtIn) return undefined;
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
      ({ client, redirectUri } = await findClientAndRedirect((id) => resolveClient(services, id), params, duplicated));
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
    const target: RedirectTarget = {
      redirectUri,
      state: params.state,
      responseMode: errorResponseMode(params.response_type, params.response_mode, redirectUri),
    };
    try {
      const request = validateAuthorizationRequest(client, redirectUri, params, duplicated);
      // RFC 8707: the resource and its scopes are checked before the end user sees anything.
      const resource = await targetResource(services, params.resource);
      const requestedScopes = resource ? resourceScopes(client, resource, request.requestedScopes) : request.requestedScopes;
      const fields = {
        authorization: {
          clientId: client.id,
          redirectUri: request.redirectUri,
          responseType: request.responseType,
          responseMode: request.responseMode,
          state: request.state,
          nonce: request.nonce,
          codeChallenge: request.codeChallenge,
          codeChallengeMethod: request.codeChallengeMethod,
          ...(resource ? { resource: resource.uri } : {}),
        },
        requestedScopes,
        ...(resource ? { resourceName: resource.name } : {}),
        hostnameHint: params.hostname,
        progress: {},
      };
      const connectorId = chosenConnectorId(request, resource);
      if (connectorId !== undefined) {
        // A named service is checked now: a request it cannot serve gets its error at once.
        const connector = services.connectors.get(connectorId);
        if (!connector || !clientMayUseConnector(client, connectorId)) throw new InvalidRequest(`unknown connector "${connectorId}"`);
        await chooseConnector(services, fields, connector);
      }
      const interaction = await interactionsOf(services).start(res, fields);
      // The connect flow takes it from here (src/connect/start.ts), and ends it through interactions.ts.
      setPageSecurityHeaders(res);
      res.redirect(req.method === "POST" ? 303 : 302, `${CONNECT_START_PATH}?connect=${interaction.id}`);
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
