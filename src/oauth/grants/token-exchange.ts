/**
 * `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693): an app that
 * holds a broker access token for one of its accounts gets that account's
 * upstream access token, to call the upstream API itself instead of through
 * the proxy. Raw upstream tokens are the most sensitive thing the broker
 * hands out, so every condition must hold:
 *
 * - the app was registered with `--allow-upstream-tokens` (else
 *   `unauthorized_client`);
 * - the subject token is a valid (unexpired, unrevoked) broker access token,
 *   issued to this app, bound to an account, with scope `tokens:read` (else
 *   `invalid_request`, as RFC 8693 §2.2.2 requires for an unacceptable
 *   subject token);
 * - the account is active and its credentials are fresh: one about to
 *   expire is refreshed first, through the single-flight refresh path.
 *
 * Only `requested_token_type` access_token is offered (the default): the
 * upstream refresh token never leaves the vault — the broker must stay the
 * one party that rotates it. No `audience` (`invalid_target`), no
 * `actor_token`, no scope choice. Every exchange is audited.
 *
 * With `resource` the exchange is another one: a broker token for the proxy,
 * acting for the subject's user (delegation, ./token-exchange-delegation.ts).
 */
import { recordAudit } from "../../audit.js";
import { AccountNeedsReauth, refreshAccount } from "../../accounts/refresh.js";
import { isInvalidToken, InvalidRequest, InvalidScope, InvalidTarget, UnauthorizedClient } from "../../errors.js";
import { hasScope } from "../scopes.js";
import { verifyAccessToken, type AccessTokenClaims } from "../tokens.js";
import { requiredParameter, type GrantContext, type TokenResponse } from "./grant.js";
import { handleDelegation } from "./token-exchange-delegation.js";

export const grantType = "urn:ietf:params:oauth:grant-type:token-exchange";
export const parameters: ReadonlySet<string> = new Set([
  "subject_token",
  "subject_token_type",
  "requested_token_type",
  "audience",
  "resource",
  "scope",
  "actor_token",
  "actor_token_type",
]);

/** RFC 8693 §3: the token type URI of an access token. */
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
/** The scope a subject token must carry for its account's upstream token to be handed out. */
export const UPSTREAM_TOKENS_SCOPE = "tokens:read";

async function subjectClaims(context: GrantContext, subjectToken: string): Promise<AccessTokenClaims & { acct: string }> {
  let claims: AccessTokenClaims;
  try {
    claims = await verifyAccessToken(context.services, subjectToken, "any");
  } catch (err) {
    if (isInvalidToken(err)) throw new InvalidRequest(`subject_token is not a valid broker access token: ${err.description}`);
    throw err;
  }
  if (claims.client_id !== context.client.id) throw new InvalidRequest("subject_token was issued to another app");
  if (!claims.acct) throw new InvalidRequest("subject_token is not bound to an account");
  if (!hasScope(claims.scope, UPSTREAM_TOKENS_SCOPE)) throw new InvalidRequest(`subject_token lacks scope ${UPSTREAM_TOKENS_SCOPE}`);
  return claims as AccessTokenClaims & { acct: string };
}

/** The upstream token type as RFC 8693 §2.2.1 `token_type` wants it; absent or any-case bearer is "Bearer". */
function tokenTypeOf(upstreamType: string | undefined): string {
  return upstreamType === undefined || upstreamType.toLowerCase() === "bearer" ? "Bearer" : upstreamType;
}

export async function handle(context: GrantContext): Promise<TokenResponse> {
  const { services, client, params } = context;
  // With a resource: a token for the proxy, acting for the user (delegation); without: the upstream token below.
  if (params.has("resource")) return handleDelegation(context);
  if (!client.allowUpstreamTokens) throw new UnauthorizedClient("the app may not read upstream tokens (it must be registered with --allow-upstream-tokens)");
  const subjectToken = requiredParameter(params, "subject_token");
  const subjectTokenType = requiredParameter(params, "subject_token_type");
  if (subjectTokenType !== ACCESS_TOKEN_TYPE) throw new InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE} (a broker access token)`);
  const requested = params.get("requested_token_type") ?? ACCESS_TOKEN_TYPE;
  if (requested !== ACCESS_TOKEN_TYPE)
    throw new InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}: only upstream access tokens are handed out`);
  if (params.has("actor_token") || params.has("actor_token_type")) throw new InvalidRequest("delegation (actor_token) is not supported");
  if (params.has("audience") || params.has("resource"))
    throw new InvalidTarget("the upstream token is issued for the account's own service; audience and resource cannot be chosen");
  if (params.has("scope")) throw new InvalidScope("the upstream token carries the scopes the account was connected with; scope cannot be chosen");

  const claims = await subjectClaims(context, subjectToken);
  const account = await services.db.account.findUnique({ where: { id: claims.acct }, select: { id: true, appId: true, connectorId: true, status: true } });
  if (!account || account.appId !== client.id) throw new InvalidRequest("the account of subject_token no longer exists");
  if (account.status !== "active") throw new InvalidRequest(`the account of subject_token is ${account.status}; the end user must connect it again`);

  let credentials;
  try {
    // Refreshes only when the credentials are about to expire (the connector's margin), once across processes.
    ({ credentials } = await refreshAccount(services, account.id, { requestId: context.requestId }));
  } catch (err) {
    if (err instanceof AccountNeedsReauth) throw new InvalidRequest("the upstream refused the account's refresh token; the end user must connect it again");
    throw err;
  }
  if (!credentials.accessToken) throw new InvalidRequest(`the account's connector (${account.connectorId}) keeps no upstream access token`);
  const expiresIn = credentials.expiresAt === undefined ? undefined : Math.floor((credentials.expiresAt.getTime() - Date.now()) / 1000);
  if (expiresIn !== undefined && expiresIn <= 0)
    throw new InvalidRequest("the upstream access token has expired and cannot be refreshed; the end user must connect the account again");

  await recordAudit(services.db, {
    action: "upstream_token.issued",
    actorType: "app",
    actorId: client.id,
    appId: client.id,
    accountId: account.id,
    connectorId: account.connectorId,
    requestId: context.requestId,
  });
  services.log.info({ clientId: client.id, accountId: account.id, connectorId: account.connectorId }, "upstream access token handed out (token exchange)");
  return {
    access_token: credentials.accessToken,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: tokenTypeOf(credentials.tokenType),
    ...(expiresIn !== undefined ? { expires_in: expiresIn } : {}),
    ...(credentials.scope ? { scope: credentials.scope } : {}),
  };
}
