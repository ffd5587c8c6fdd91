/**
 * Starting a connect once the app's authorization request is checked and a
 * connector chosen: what the broker must remember of the request, then the
 * connect's steps (steps.ts) — the hostname of a per-server connector, the
 * upstream sign-in page, or a broker form — whatever the connector's kind.
 */
import type { Request, Response } from "express";
import type { Services } from "../services.js";
import type { ValidatedAuthorizationRequest } from "../oauth/authorization-request.js";
import type { RequestedScopes } from "../oauth/scopes.js";
import type { ConnectorConfig } from "../connectors/schema.js";
import { upstreamScopesFor } from "../connectors/scopes.js";
import type { ConnectRequest } from "./pending.js";
import { startConnect } from "./steps.js";

export interface BeginConnectInput {
  request: ValidatedAuthorizationRequest;
  connector: ConnectorConfig;
  scopes: RequestedScopes;
}

/**
 * Returns the URL to send the end user to (the upstream, or a broker page),
 * or undefined when the account was connected at once (client_credentials)
 * and the app's response has been sent.
 */
export async function beginConnect(services: Services, req: Request, res: Response, input: BeginConnectInput): Promise<string | undefined> {
  const { request, connector, scopes } = input;
  const authorization: ConnectRequest = {
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
    upstreamScopes: upstreamScopesFor(connector, scopes.connectorLocal),
    deviceCodeHash: request.deviceCodeHash,
  };
  req.log.info({ clientId: request.client.id, connectorId: connector.id }, "connect started");
  return startConnect(services, req, res, connector, authorization, request.params.hostname);
}
