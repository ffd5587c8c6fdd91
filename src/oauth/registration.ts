/**
 * `POST /oauth/register`: RFC 7591 dynamic client registration, the
 * fallback for clients that cannot host a Client ID Metadata Document.
 * BROKER_DYNAMIC_REGISTRATION says who may register: nobody (`off`: 404,
 * and discovery does not list the endpoint), holders of an initial access
 * token the operator made (`token`), or anyone (`open`); the route's rate
 * limit counts registrations per client address. The metadata is checked
 * before a token's use is spent, so a rejected request costs none.
 */
import type { ExpressExchange } from "../http/route.js";
import { NotFound } from "../errors.js";
import { sendJson } from "../http/json.js";
import { recordAudit } from "../audit.js";
import { readRegistrationRequest, registerDynamicClient } from "../apps/dynamic-registration.js";
import { spendRegistrationToken } from "../apps/registration-tokens.js";
import type { Services } from "../services.js";

export function registrationEndpoint(services: Services): (exchange: ExpressExchange) => Promise<void> {
  const { mode } = services.config.dynamicRegistration;
  return async ({ req, res, requestId }) => {
    if (mode === "off") throw new NotFound("dynamic client registration is not enabled on this broker (BROKER_DYNAMIC_REGISTRATION=off)");
    const resources = await services.db.resource.findMany({ select: { scopes: true } });
    const metadata = readRegistrationRequest(req.body, new Set(resources.flatMap((r) => r.scopes)));
    const tokenId = mode === "token" ? await spendRegistrationToken(services.db, req.headers.authorization) : null;
    const { client, response, deduplicated } = await registerDynamicClient(services.clients, services.db, metadata);
    await recordAudit(services.db, {
      action: "app.registered",
      actorType: "app",
      actorId: client.id,
      appId: client.id,
      requestId,
      detail: { registration: "dynamic", mode, registrationTokenId: tokenId, tokenEndpointAuthMethod: client.tokenEndpointAuthMethod, deduplicated },
    });
    res.setHeader("Cache-Control", "no-store");
    sendJson(res, 201, response);
  };
}
