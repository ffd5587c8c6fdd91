/**
 * `POST /oauth/revoke` (RFC 7009): an app says it no longer needs a token.
 * Steps: authenticate the client, find the token, and — only if it is the
 * app's own — revoke it: an access token until it expires (its `jti`), a
 * refresh token with its whole grant, so every access token issued under
 * the grant stops working too (§2.1: "SHOULD also invalidate all access
 * tokens based on the same authorization grant").
 *
 * The answer is 200 whatever the token was — unknown, expired, already
 * revoked, another app's (§2.2: "invalid tokens do not cause an error
 * response"), so it tells nothing about tokens of other apps, and another
 * app's token is left alone.
 *
 * CORS is open: a browser app (public client) revokes its own tokens at logout.
 */
import { InvalidRequest } from "../errors.js";
import type { Services } from "../services.js";
import { forbidCaching } from "./back-channel.js";
import type { AuthenticatedRequest } from "./client-auth.js";
import type { Client } from "../apps/clients.js";
import { revokeAccessToken, revokeFamily } from "../revocation/revocation.js";
import type { Exchange } from "../http/route.js";
import { findRefreshTokenState, lookupOrder, readAccessToken } from "./token-lookup.js";

/** Revokes `token` if it is one of `client`'s; returns what it was, for the log. */
export async function revokeToken(
  services: Services,
  client: Client,
  token: string,
  hint: string | undefined,
  requestId?: string,
): Promise<"access_token" | "refresh_token" | "foreign" | "unknown"> {
  for (const type of lookupOrder(hint)) {
    if (type === "access_token") {
      // Revocation needs no revocation check: revoking twice is harmless.
      const claims = await readAccessToken(services, token, { checkRevocation: false });
      if (!claims) continue;
      if (claims.client_id !== client.id) return "foreign";
      await revokeAccessToken(services.redis, claims);
      return "access_token";
    }
    const state = await findRefreshTokenState(services, token);
    if (!state) continue;
    if (state.appId !== client.id) return "foreign";
    await revokeFamily(services, state.familyId, "revoked by the app (RFC 7009)", { requestId });
    return "refresh_token";
  }
  return "unknown";
}

/** `POST /oauth/revoke` (a direct route, open to scripts); the client is authenticated by the route's authenticator. */
export function revocationEndpoint(services: Services): (exchange: Exchange<AuthenticatedRequest>) => Promise<void> {
  return async ({ res, requestId, log, caller: { form, client } }) => {
    forbidCaching(res);
    const token = form.get("token");
    if (token === undefined) throw new InvalidRequest("token is missing");
    const outcome = await revokeToken(services, client, token, form.get("token_type_hint"), requestId);
    log.info({ clientId: client.id, outcome }, "token revocation");
    res.statusCode = 200;
    res.end();
  };
}
