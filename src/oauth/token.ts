/**
 * `POST /oauth/token` (RFC 6749 §3.2, §5), as a few named steps: the
 * client authenticated (the route's authenticator), find the grant, check
 * the client may use it, run it, write the response. Grants (./grants/) only produce tokens;
 * every shared check lives here, so no grant can skip one. Errors are thrown
 * and rendered as RFC 6749 §5.2 JSON by the error handler.
 *
 * Open to scripts of any origin (the route table's `cors`): browser apps
 * (public clients with PKCE) call it directly, and the request carries its
 * own proof (a code with its verifier, a refresh token, a client secret), so
 * cookies never matter here.
 */
import { InvalidRequest, UnauthorizedClient, UnsupportedGrantType } from "../errors.js";
import type { Services } from "../services.js";
import type { FormParameters } from "./body.js";
import type { AuthenticatedRequest } from "./client-auth.js";
import type { Client } from "../apps/clients.js";
import { buildGrants, type Grant } from "./grants/index.js";
import { forbidCaching } from "./back-channel.js";
import type { Exchange } from "../http/route.js";
import { sendJson } from "../http/json.js";

function grantTypeOf(form: FormParameters): string {
  const grantType = form.get("grant_type");
  if (grantType === undefined) throw new InvalidRequest("grant_type is missing");
  return grantType;
}

function findGrant(grants: ReadonlyMap<string, Grant>, grantType: string): Grant {
  const grant = grants.get(grantType);
  if (!grant) throw new UnsupportedGrantType(`grant_type "${grantType}" is not supported`);
  return grant;
}

/** RFC 6749 §5.2 unauthorized_client: the client is not registered for this grant. */
function checkClientMayUse(client: Client, grant: Grant): void {
  if (!client.grantTypes.includes(grant.grantType)) throw new UnauthorizedClient(`the client is not registered for the ${grant.grantType} grant`);
}

/** Only the grant's own parameters reach it (an allowlist, as in node-oidc-provider). */
function pickParameters(form: FormParameters, allowed: ReadonlySet<string>): ReadonlyMap<string, string> {
  const picked = new Map<string, string>();
  for (const name of allowed) {
    const value = form.get(name);
    if (value !== undefined) picked.set(name, value);
  }
  return picked;
}

/**
 * `POST /oauth/token` (a direct route of the table: the broker's hottest
 * endpoint). The client is authenticated before (the route's
 * authenticator, client-auth.ts), so no grant runs for an unknown client.
 */
export function tokenEndpoint(services: Services): (exchange: Exchange<AuthenticatedRequest>) => Promise<void> {
  const grants = buildGrants();
  return async ({ res, requestId, caller }) => {
    forbidCaching(res);
    const { form, client, method } = caller;
    const grant = findGrant(grants, grantTypeOf(form));
    checkClientMayUse(client, grant);
    const tokens = await grant.handle({ services, client, authMethod: method, params: pickParameters(form, grant.parameters), requestId });
    sendJson(res, 200, tokens);
  };
}
