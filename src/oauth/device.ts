/**
 * `POST /oauth/device_authorization` (RFC 8628 §3.1, §3.2): a device that
 * cannot show a browser asks for a device code and a user code. Steps:
 * authenticate the client (public devices with `none`), check it is
 * registered for the device-code grant, check the scopes (and the connector,
 * when the request names one: the `connector` parameter or connector
 * scopes), store the codes, and answer where the end user goes: `/device`,
 * where they type the user code and connect an account through the same
 * connect flow as the authorization endpoint.
 *
 * No CORS: devices are native clients.
 */
import { DEVICE_PAGE_PATH } from "../paths.js";
import { InvalidRequest, UnauthorizedClient } from "../errors.js";
import { sendJson } from "../http/json.js";
import type { Exchange } from "../http/route.js";
import type { Services } from "../services.js";
import { forbidCaching } from "./back-channel.js";
import type { AuthenticatedRequest } from "./client-auth.js";
import type { Client } from "../apps/clients.js";
import { createDeviceCode, formatUserCode } from "./device-codes.js";
import { grantType as DEVICE_CODE_GRANT_TYPE } from "./grants/device-code.js";
import { checkRequestedScopes, clientMayUseConnector, parseScope, splitConnectorScope } from "./scopes.js";

/**
 * The scopes of a device request, and its connector if it names one (else
 * the end user picks one on the /device page, and the scopes are checked
 * again against that connector). Without a scope the app gets `proxy`.
 */
export function checkDeviceScopes(
  services: Pick<Services, "connectors">,
  client: Client,
  scope: string | undefined,
  connectorParameter: string | undefined,
): { scope: string; connectorId: string | undefined } {
  const requested = parseScope(scope);
  const named = new Set(
    requested
      .map(splitConnectorScope)
      .filter((s) => s !== undefined)
      .map((s) => s.connectorId),
  );
  if (connectorParameter === undefined && named.size > 1) throw new InvalidRequest("the scopes name more than one connector");
  const connectorId = connectorParameter ?? [...named][0];
  const connector = connectorId === undefined ? undefined : services.connectors.get(connectorId);
  if (connectorId !== undefined && (!connector || !clientMayUseConnector(client, connectorId))) throw new InvalidRequest(`unknown connector "${connectorId}"`);
  const scopes = checkRequestedScopes(client, requested.length > 0 ? requested : client.scopes.filter((s) => s === "proxy"), connector);
  return { scope: scopes.all.join(" "), connectorId };
}

/** `POST /oauth/device_authorization` (RFC 8628 §3.1, §3.2); the client is authenticated by the route's authenticator. */
export function deviceAuthorizationEndpoint(services: Services): (exchange: Exchange<AuthenticatedRequest>) => Promise<void> {
  const verificationUri = `${services.config.issuer}${DEVICE_PAGE_PATH}`;
  return async ({ res, log, caller: { form, client } }) => {
    forbidCaching(res);
    if (!client.grantTypes.includes(DEVICE_CODE_GRANT_TYPE)) throw new UnauthorizedClient("the client is not registered for the device_code grant");
    const { scope, connectorId } = checkDeviceScopes(services, client, form.get("scope"), form.get("connector"));
    const created = await createDeviceCode(services.db, { appId: client.id, scope, connectorId });
    const userCode = formatUserCode(created.userCode);
    log.info({ clientId: client.id, connectorId }, "device authorization started");
    sendJson(res, 200, {
      device_code: created.deviceCode,
      user_code: userCode,
      verification_uri: verificationUri,
      verification_uri_complete: `${verificationUri}?user_code=${encodeURIComponent(userCode)}`,
      expires_in: created.expiresIn,
      interval: created.interval,
    });
  };
}
