/**
 * `POST /oauth/introspect` (RFC 7662): an app's back end asks whether a
 * token is active and what it stands for. Steps: authenticate the client
 * (confidential clients only), find the token — an access token (signature,
 * expiry, and revocation of the token or its grant) or a refresh token (by
 * its hash: unused, unexpired, grant not revoked) — and answer with its
 * claims only if it is the asking app's own token, or an access token for a
 * resource (RFC 8707, its `aud`) that the asking app runs (the resource's
 * `appId`): a resource server learns about the tokens presented to it.
 *
 * Anything else — unknown, expired, revoked, another app's — is
 * `{"active": false}` and nothing more (RFC 7662 §2.2), so the endpoint
 * cannot be used to learn about tokens of other apps (§4).
 *
 * No CORS: introspection is for servers; a browser app has no credentials
 * to authenticate with here.
 */
import { InvalidClient, InvalidRequest } from "../errors.js";
import type { Services } from "../services.js";
import { forbidCaching } from "./back-channel.js";
import type { AuthenticatedRequest } from "./client-auth.js";
import type { Client } from "../apps/clients.js";
import { sendJson } from "../http/json.js";
import type { Exchange } from "../http/route.js";
import { findRefreshTokenState, lookupOrder, readAccessToken } from "./token-lookup.js";
import { lookupResource } from "./resources.js";

type IntrospectionResponse = { active: false } | ({ active: true } & Record<string, unknown>);

const INACTIVE: IntrospectionResponse = { active: false };

/** Whether `client` is the app registered as running the resource `aud` names. */
async function runsResource(services: Services, client: Client, aud: string): Promise<boolean> {
  if (aud === services.config.issuer) return false;
  return (await lookupResource(services, aud))?.appId === client.id;
}

async function introspectAccessToken(services: Services, client: Client, token: string): Promise<IntrospectionResponse | undefined> {
  const claims = await readAccessToken(services, token, { checkRevocation: true });
  if (!claims) return undefined;
  if (claims.client_id !== client.id && !(await runsResource(services, client, claims.aud))) return INACTIVE;
  return {
    active: true,
    token_type: "Bearer",
    scope: claims.scope,
    client_id: claims.client_id,
    sub: claims.sub,
    aud: claims.aud,
    iss: claims.iss,
    exp: claims.exp,
    iat: claims.iat,
    jti: claims.jti,
    ...(claims.acct ? { acct: claims.acct } : {}),
    ...(claims.connector ? { connector: claims.connector } : {}),
  };
}

async function introspectRefreshToken(services: Services, client: Client, token: string): Promise<IntrospectionResponse | undefined> {
  const state = await findRefreshTokenState(services, token);
  if (!state) return undefined;
  if (state.appId !== client.id || !state.active) return INACTIVE;
  return {
    active: true,
    scope: state.scope,
    client_id: state.appId,
    sub: state.accountId ?? state.appId,
    iss: services.config.issuer,
    exp: Math.floor(state.expiresAt.getTime() / 1000),
    iat: Math.floor(state.createdAt.getTime() / 1000),
    ...(state.accountId ? { acct: state.accountId } : {}),
  };
}

export async function introspect(services: Services, client: Client, token: string, hint: string | undefined): Promise<IntrospectionResponse> {
  for (const type of lookupOrder(hint)) {
    const answer = type === "access_token" ? await introspectAccessToken(services, client, token) : await introspectRefreshToken(services, client, token);
    if (answer) return answer;
  }
  return INACTIVE;
}

/** `POST /oauth/introspect` (a direct route); the client is authenticated by the route's authenticator. */
export function introspectionEndpoint(services: Services): (exchange: Exchange<AuthenticatedRequest>) => Promise<void> {
  return async ({ res, caller: { form, client } }) => {
    forbidCaching(res);
    // RFC 7662 §2.1: the caller must be authorized; a public client proves nothing.
    if (client.isPublic) throw new InvalidClient("public clients cannot introspect tokens");
    const token = form.get("token");
    if (token === undefined) throw new InvalidRequest("token is missing");
    sendJson(res, 200, await introspect(services, client, token, form.get("token_type_hint")));
  };
}
