/**
 * Starting the upstream leg of a connect: the upstream authorization request
 * with the broker's own state, nonce and PKCE verifier, remembered in a
 * connect session bound to this browser.
 */
import type { Request, Response } from "express";
import type { Services } from "../services.js";
import type { ValidatedAuthorizationRequest } from "../oauth/authorization-request.js";
import type { RequestedScopes } from "../oauth/scopes.js";
import { InvalidRequest } from "../errors.js";
import type { ConnectorConfig } from "../connectors/schema.js";
import { upstreamScopesFor } from "../connectors/scopes.js";
import { isPerServer } from "../connectors/template.js";
import { kindContext, redirectAuthorizerFor } from "./upstream.js";
import { newSessionId, newUpstreamState, saveSession } from "./session.js";

export interface BeginConnectInput {
  request: ValidatedAuthorizationRequest;
  connector: ConnectorConfig;
  scopes: RequestedScopes;
}

/** Returns the upstream URL to send the end user to. */
export async function beginConnect(services: Services, req: Request, res: Response, input: BeginConnectInput): Promise<string> {
  const { request, connector, scopes } = input;
  if (isPerServer(connector)) throw new InvalidRequest(`connector "${connector.id}" needs a hostname, which this broker cannot ask for yet`);
  const authorizer = redirectAuthorizerFor(services, connector);
  const upstreamScopes = upstreamScopesFor(connector, scopes.connectorLocal);
  const sessionId = newSessionId();
  const state = newUpstreamState(sessionId);
  const context = await kindContext(services, connector, request.client.id, upstreamScopes);
  const { url, checks } = await authorizer.authorizationRequest(context, state);
  await saveSession(
    services.redis,
    services.keyring,
    res,
    {
      id: sessionId,
      clientId: request.client.id,
      redirectUri: request.redirectUri,
      responseType: request.responseType,
      responseMode: request.responseMode,
      state: request.state,
      nonce: request.nonce,
      codeChallenge: request.codeChallenge,
      codeChallengeMethod: request.codeChallengeMethod,
      scope: scopes.all.join(" "),
      connectorId: connector.id,
      upstreamScopes,
      upstream: { state, nonce: checks.nonce, codeVerifier: checks.codeVerifier },
      deviceCodeHash: request.deviceCodeHash,
    },
    services.config.issuer.startsWith("https:"),
  );
  req.log.info({ clientId: request.client.id, connectorId: connector.id }, "connect started");
  return url.toString();
}
