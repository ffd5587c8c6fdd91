/**
 * Reading and checking an authorization request (RFC 6749 §4.1.1, OIDC Core
 * §3.1.2.1, RFC 7636, RFC 9700 §2.1). The checks run in two phases: the
 * client and redirect URI first — failures there are shown on an error page,
 * never redirected (RFC 6749 §4.1.2.1, no open redirector) — then everything
 * else, whose failures go back to the app's redirect URI with its `state`.
 */
import type { Request } from "express";
import { InvalidClient, InvalidRedirectUri, InvalidRequest, LoginRequired, UnauthorizedClient, UnsupportedResponseType } from "../errors.js";
import { isHttpLocalhost, isRegisteredFor, loopbackInsteadOf, redirectUriMatches, requiresPkce, RESPONSE_TYPES, type Client } from "../apps/clients.js";
import {
  defaultResponseMode,
  isResponseMode,
  issuesFrontChannelTokens,
  responseModeAllowed,
  responseModeReaches,
  type ResponseMode,
} from "./response-modes.js";
import { parseScope } from "./scopes.js";
import { severalResources } from "./resource-indicators.js";

/** Parameters the authorize endpoint reads; any other is ignored (RFC 6749 §3.1). */
export const AUTHORIZE_PARAMETERS = [
  "client_id",
  "redirect_uri",
  "response_type",
  "response_mode",
  "scope",
  "state",
  "nonce",
  "code_challenge",
  "code_challenge_method",
  "prompt",
  "connector",
  "hostname",
  "login_hint",
  // RFC 8707: the resource the tokens are for (resource-indicators.ts).
  "resource",
] as const;
export type AuthorizeParameter = (typeof AUTHORIZE_PARAMETERS)[number];
export type AuthorizeParameters = Partial<Record<AuthorizeParameter, string>>;

export { redirectWithParameters, type RedirectTarget } from "./response-modes.js";

export interface ValidatedAuthorizationRequest {
  client: Client;
  params: AuthorizeParameters;
  redirectUri: string;
  /** Normalised: its space-separated values sorted ("code id_token"). */
  responseType: string;
  responseMode: ResponseMode;
  state: string | undefined;
  nonce: string | undefined;
  codeChallenge: string | undefined;
  codeChallengeMethod: string | undefined;
  requestedScopes: string[];
  /** Device flow (RFC 8628): the device code the connect approves; set by the /device page, never from parameters. */
  deviceCodeHash?: string;
}

/** Response types in their normalised form (values sorted), as apps are registered with them. */
const SUPPORTED_RESPONSE_TYPES: ReadonlySet<string> = new Set(RESPONSE_TYPES.map(normaliseResponseType));

/** "id_token code" → "code id_token": the order of the values carries no meaning (RFC 6749 §3.1.1). */
export function normaliseResponseType(responseType: string | undefined): string {
  return (responseType ?? "").split(" ").filter(Boolean).sort().join(" ");
}

/** RFC 7636 §4.1: code_verifier / code_challenge alphabet and length. */
const PKCE_CHALLENGE = /^[A-Za-z0-9._~-]{43,128}$/;
const MAX_PARAMETER_LENGTH = 4096;

/** Reads the parameters of a GET (query) or POST (form) request; a repeated parameter is an error (RFC 6749 §3.1). */
export function readAuthorizeParameters(req: Request): { params: AuthorizeParameters; duplicated: AuthorizeParameter[] } {
  const source = (req.method === "POST" ? req.body : req.query) as Record<string, unknown> | undefined;
  const params: AuthorizeParameters = {};
  const duplicated: AuthorizeParameter[] = [];
  for (const name of AUTHORIZE_PARAMETERS) {
    const value = source?.[name];
    if (value === undefined) continue;
    if (typeof value !== "string") {
      duplicated.push(name);
      continue;
    }
    if (value !== "") params[name] = value;
  }
  return { params, duplicated };
}

/** Phase one: the client and its redirect URI. Throws non-redirectable errors. */
export async function findClientAndRedirect(
  findClient: (id: string) => Promise<Client | undefined>,
  params: AuthorizeParameters,
  duplicated: AuthorizeParameter[],
): Promise<{ client: Client; redirectUri: string }> {
  if (duplicated.includes("client_id")) throw new InvalidClient("client_id is repeated");
  if (!params.client_id) throw new InvalidClient("client_id is missing");
  const client = await findClient(params.client_id);
  if (!client) throw new InvalidClient("unknown client_id");
  if (duplicated.includes("redirect_uri")) throw new InvalidRedirectUri("redirect_uri is repeated");
  // RFC 6749 §3.1.2.3: may be omitted only when exactly one is registered; OIDC always sends it.
  const redirectUri = params.redirect_uri ?? (client.redirectUris.length === 1 ? client.redirectUris[0] : undefined);
  if (!redirectUri) throw new InvalidRedirectUri("redirect_uri is missing and the app has several registered");
  // RFC 9700 §4.1.1: exact match against a registered URI (loopback port may vary, RFC 8252 §7.3).
  if (!redirectUriMatches(client.redirectUris, redirectUri)) throw new InvalidRedirectUri("redirect_uri is not registered for this app");
  // RFC 8252 §8.3: registration refuses http://localhost now; an app registered before gets the fix on the page, never the code.
  if (isHttpLocalhost(redirectUri))
    throw new InvalidRedirectUri(
      `redirect_uri ${redirectUri} names localhost, which the broker no longer redirects to (RFC 8252 §8.3): register the app with ${loopbackInsteadOf(redirectUri)} and send that`,
    );
  return { client, redirectUri };
}

/** Phase two: everything else. Throws redirectable OAuth errors. */
export function validateAuthorizationRequest(
  client: Client,
  redirectUri: string,
  params: AuthorizeParameters,
  duplicated: AuthorizeParameter[],
): ValidatedAuthorizationRequest {
  if (duplicated.includes("resource")) throw severalResources();
  if (duplicated.length > 0) throw new InvalidRequest(`parameter ${duplicated[0]} is repeated`);
  for (const [name, value] of Object.entries(params)) if (value.length > MAX_PARAMETER_LENGTH) throw new InvalidRequest(`parameter ${name} is too long`);

  const responseType = normaliseResponseType(params.response_type);
  if (!responseType) throw new InvalidRequest("response_type is missing");
  if (!SUPPORTED_RESPONSE_TYPES.has(responseType)) throw new UnsupportedResponseType(`response_type "${params.response_type}" is not supported`);
  // RFC 9700 §2.1.2: implicit and hybrid only for apps registered for them.
  if (!client.responseTypes.includes(responseType)) throw new UnauthorizedClient(`the app is not registered for response_type "${responseType}"`);
  const issuesCode = responseType.split(" ").includes("code");
  if (issuesCode && !isRegisteredFor(client, "authorization_code")) throw new UnauthorizedClient("the app is not registered for the authorization_code grant");
  const responseMode = params.response_mode ?? defaultResponseMode(responseType);
  if (!isResponseMode(responseMode)) throw new InvalidRequest(`response_mode "${responseMode}" is not supported`);
  if (!responseModeAllowed(responseMode, responseType))
    throw new InvalidRequest(`response_mode "query" may not carry tokens: use fragment or form_post with response_type "${responseType}"`);
  if (!responseModeReaches(responseMode, redirectUri))
    throw new InvalidRequest('response_mode "web_message" needs an http or https redirect_uri: a custom scheme has no origin to post to');
  const requestedScopes = parseScope(params.scope);
  if (issuesFrontChannelTokens(responseType)) {
    // OIDC Core §3.2.2.1, §3.3.2.11: the nonce binds the ID token to this
    // browser's session (replay of a front-channel token); required for
    // every implicit and hybrid request here, ID token or not.
    if (!params.nonce) throw new InvalidRequest(`nonce is required with response_type "${responseType}"`);
    if (responseType.split(" ").includes("id_token") && !requestedScopes.includes("openid"))
      throw new InvalidRequest(`response_type "${responseType}" returns an ID token: scope must include openid`);
  }

  // RFC 7636 + RFC 9700 §2.1.1, OAuth 2.1 §4.1.1: S256 only; required for every
  // request that returns a code (hybrid types too), unless a legacy confidential app opted out.
  if (params.code_challenge_method !== undefined && params.code_challenge === undefined)
    throw new InvalidRequest("code_challenge_method without code_challenge");
  const method = params.code_challenge ? (params.code_challenge_method ?? "plain") : undefined;
  if (method !== undefined && method !== "S256") throw new InvalidRequest(`code_challenge_method "${method}" is not allowed; use S256`);
  if (params.code_challenge !== undefined && !PKCE_CHALLENGE.test(params.code_challenge)) throw new InvalidRequest("code_challenge is malformed");
  if (issuesCode && !params.code_challenge && requiresPkce(client))
    throw new InvalidRequest("PKCE is required: send code_challenge with code_challenge_method=S256");

  // OIDC Core §3.1.2.6: the broker always needs the end user to act, so it can never answer prompt=none.
  const prompts = (params.prompt ?? "").split(" ").filter(Boolean);
  if (prompts.includes("none")) throw new LoginRequired("the end user must connect an account interactively");

  return {
    client,
    params,
    redirectUri,
    responseType,
    responseMode,
    state: params.state,
    nonce: params.nonce,
    codeChallenge: params.code_challenge,
    codeChallengeMethod: method,
    requestedScopes,
  };
}
