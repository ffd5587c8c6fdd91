/**
 * The authorization code flow upstream (RFC 6749 §4.1 with RFC 7636 PKCE,
 * OIDC Core §3.1), through openid-client v6. The `oauth2` and `oidc` kinds
 * differ only in where the server metadata comes from (the file, or
 * discovery) and how they learn who connected; both are this engine with
 * those two functions plugged in.
 */
import { importJWK, type JWK } from "jose";
import * as oidc from "openid-client";
import type { ConnectorAuth, ConnectorConfig } from "../schema.js";
import type { ClientSecretBasicEncoding, TokenAuthMethod } from "../schema-fields.js";
import type { UpstreamClientCredentials } from "../credentials.js";
import { ConnectorNotConfigured } from "../errors.js";
import { CERTIFICATE_THUMBPRINT } from "../private-keys.js";
import { fillTemplate } from "../template.js";
import { ClientSecretBasic } from "./client-secret-basic.js";
import { inferTokenExpiry } from "../token-expiry.js";
import { USER_AGENT } from "./identity.js";
import { revokeAsDescribed } from "./custom-revocation.js";
import { checkHeldIdToken, holdIdToken, type HeldIdToken } from "./id-token-issuer.js";
import type {
  AuthKind,
  AuthorizationChecks,
  IdentityFetcher,
  KindContext,
  RedirectAuthorizer,
  Refresher,
  Revoker,
  UpstreamIdentity,
  UpstreamTokens,
} from "./types.js";
import { upstreamCall } from "./upstream-errors.js";
import { hasValues, valuesFromCalls, valuesFromTokenResponse } from "./upstream-values.js";
import { tokenResponseLeniencyOf, withDeclaredLeniency } from "./token-response.js";

export type RedirectAuth = Extract<ConnectorAuth, { kind: "oauth2" | "oidc" }>;
type TokenResponse = oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;

/** Seconds openid-client waits for each upstream request. */
const UPSTREAM_TIMEOUT_SECONDS = 30;

/** The connector's auth section, checked to be of the kind at hand (a mismatch is a programming mistake). */
export function redirectAuthOf<K extends RedirectAuth["kind"]>(ctx: KindContext, kind: K): Extract<RedirectAuth, { kind: K }> {
  if (ctx.connector.auth.kind !== kind) throw new TypeError(`connector "${ctx.connector.id}" is ${ctx.connector.auth.kind}, not ${kind}`);
  return ctx.connector.auth as Extract<RedirectAuth, { kind: K }>;
}

function requireCredentials(ctx: KindContext): UpstreamClientCredentials {
  if (!ctx.credentials) throw new TypeError(`the context for connector "${ctx.connector.id}" has no client credentials`);
  return ctx.credentials;
}

/** How the broker authenticates at an upstream token endpoint; `none` for jwt_bearer, whose assertion is the grant. */
export type TokenEndpointAuthMethod = TokenAuthMethod | "none";

/** The connector's `clientSecretBasicEncoding` (defaulted by the schema for every kind that can send client_secret_basic). */
function basicEncodingOf(auth: ConnectorAuth): ClientSecretBasicEncoding {
  return "clientSecretBasicEncoding" in auth ? auth.clientSecretBasicEncoding : "minimal";
}

/** Client authentication at the upstream token endpoint, one strategy per method (RFC 6749 §2.3, RFC 7523 §2.2). */
const CLIENT_AUTH: Record<
  TokenEndpointAuthMethod,
  (ctx: KindContext, credentials: UpstreamClientCredentials, assertionAudience: string | undefined) => Promise<oidc.ClientAuth>
> = {
  client_secret_basic: async (ctx, credentials) => ClientSecretBasic(ctx.connector.id, credentials.clientSecret, basicEncodingOf(ctx.connector.auth)),
  client_secret_post: async (_ctx, credentials) => oidc.ClientSecretPost(credentials.clientSecret),
  private_key_jwt: async (ctx, credentials, assertionAudience) => {
    const jwk = credentials.privateJwk;
    if (!jwk?.alg)
      throw new ConnectorNotConfigured(
        ctx.connector.id,
        `connector "${ctx.connector.id}" has no private key with an alg for private_key_jwt: run \`authbroker credentials keygen ${ctx.connector.id}\``,
      );
    let key: Awaited<ReturnType<typeof importJWK>>;
    try {
      key = await importJWK(jwk, jwk.alg);
    } catch (err) {
      throw new ConnectorNotConfigured(
        ctx.connector.id,
        `connector "${ctx.connector.id}" has a stored private key that cannot be used (${(err as { code?: string }).code ?? "invalid key"}): run \`authbroker credentials keygen ${ctx.connector.id}\``,
      );
    }
    if (key instanceof Uint8Array)
      throw new ConnectorNotConfigured(ctx.connector.id, `connector "${ctx.connector.id}" has a symmetric key where private_key_jwt needs a private key`);
    const thumbprint = certificateThumbprintOf(ctx, jwk);
    return oidc.PrivateKeyJwt(
      { key, kid: jwk.kid },
      {
        [oidc.modifyAssertion]: (header, payload) => {
          // openid-client puts the issuer (draft-ietf-oauth-rfc7523bis); where the broker knows no issuer, only a
          // token endpoint, that endpoint is the audience (RFC 7523 §3, OIDC Core §9; what Microsoft Entra checks).
          if (assertionAudience) payload.aud = assertionAudience;
          // RFC 7515 §4.1.8: the certificate the upstream registered, by its SHA-256 thumbprint.
          if (thumbprint) header[CERTIFICATE_THUMBPRINT] = thumbprint;
        },
      },
    );
  },
  // RFC 7523 §2.1: the assertion authorizes the request; nothing else is sent (not even client_id, which None() would add).
  none: async () => () => undefined,
};

/** The `x5t#S256` of the connector's key, when the connector names its key by certificate; none otherwise. */
function certificateThumbprintOf(ctx: KindContext, jwk: JWK): string | undefined {
  const auth = ctx.connector.auth;
  if (!("certificate" in auth) || !auth.certificate) return undefined;
  const thumbprint = jwk[CERTIFICATE_THUMBPRINT as keyof JWK];
  if (typeof thumbprint !== "string")
    throw new ConnectorNotConfigured(
      ctx.connector.id,
      `connector "${ctx.connector.id}" needs its key's certificate: run \`authbroker credentials set ${ctx.connector.id} --private-key-file key.pem --certificate-file cert.pem\``,
    );
  return thumbprint;
}

/**
 * An openid-client Configuration for this context: the server metadata,
 * the broker's client there, its client authentication, the SSRF-safe
 * fetch, and plain http only where the context allows it.
 */
export async function clientConfiguration(
  ctx: KindContext,
  auth: { tokenAuthMethod: TokenEndpointAuthMethod },
  metadata: oidc.ServerMetadata,
  extra: { assertionAudience?: string; heldIdToken?: HeldIdToken } = {},
): Promise<oidc.Configuration> {
  const credentials = requireCredentials(ctx);
  const clientAuth = await CLIENT_AUTH[auth.tokenAuthMethod](ctx, credentials, extra.assertionAudience);
  const config = new oidc.Configuration(metadata, credentials.clientId, { token_endpoint_auth_method: auth.tokenAuthMethod }, clientAuth);
  config[oidc.customFetch] = async (url, options) => {
    const response = await ctx.fetch(url, { ...(options as RequestInit), headers: { ...options.headers, "user-agent": USER_AGENT, ...ctx.connector.headers } });
    if (url !== metadata.token_endpoint) return response;
    const checked = await withDeclaredLeniency(await errorBodyAsError(response), tokenResponseLeniencyOf(ctx.connector.auth));
    // `auth.idTokenIssuer`: the ID token is checked by id-token-issuer.ts, not by openid-client.
    return extra.heldIdToken ? holdIdToken(checked, extra.heldIdToken) : checked;
  };
  config.timeout = UPSTREAM_TIMEOUT_SECONDS;
  if (ctx.allowInsecure) oidc.allowInsecureRequests(config);
  return config;
}

/** A Configuration for a kind that only talks to a token endpoint (no authorization server metadata beyond it). */
export function tokenEndpointConfiguration(ctx: KindContext, tokenUrl: string, tokenAuthMethod: TokenEndpointAuthMethod): Promise<oidc.Configuration> {
  const tokenEndpoint = filled(ctx, tokenUrl);
  // openid-client needs an issuer identifier; a token endpoint alone has none, so its origin stands in (never compared,
  // and never a client assertion's audience: that is the token endpoint).
  return clientConfiguration(
    ctx,
    { tokenAuthMethod },
    { issuer: new URL(tokenEndpoint).origin, token_endpoint: tokenEndpoint },
    { assertionAudience: tokenEndpoint },
  );
}

/**
 * Some upstreams (GitHub) answer a failed token request with HTTP 200 and
 * an `error` body. RFC 6749 §5.2 says 400; openid-client reads such a 200
 * as a malformed success. Given its 400, the failure is classified like
 * any other (`bad_refresh_token` → re-authorization needed).
 */
async function errorBodyAsError(response: Response): Promise<Response> {
  if (response.status !== 200 || !(response.headers.get("content-type") ?? "").includes("json")) return response;
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const isError = typeof body === "object" && body !== null && typeof (body as { error?: unknown }).error === "string" && !("access_token" in body);
  return new Response(text, { status: isError ? 400 : 200, headers: new Headers([...response.headers]) });
}

/**
 * A token response as the broker keeps it. Every token gets an expiry, the
 * upstream's or an inferred one (../token-expiry.ts), so every account that
 * can be refreshed has a refresh schedule.
 */
export function toUpstreamTokens(response: TokenResponse, connector: ConnectorConfig): UpstreamTokens {
  return {
    accessToken: response.access_token,
    refreshToken: response.refresh_token,
    idToken: response.id_token,
    tokenType: response.token_type.toLowerCase(),
    ...inferTokenExpiry(response.access_token, response.expiresIn(), connector.refresh),
    scope: response.scope,
  };
}

export interface AuthorizationCodeKindOptions<K extends RedirectAuth["kind"]> {
  kind: K;
  /** OIDC: ask for `openid`, send and check a nonce, expect an ID token. */
  openid: boolean;
  /** The upstream's server metadata (authorization, token, revocation endpoints…). */
  serverMetadata(ctx: KindContext, auth: Extract<RedirectAuth, { kind: K }>): Promise<oidc.ServerMetadata>;
  /**
   * The ID tokens' issuer template where the file gives none but the server's
   * metadata implies one (oidc: a discovered `{tenantid}` issuer); then the
   * kind checks ID tokens itself (id-token-issuer.ts), as for `auth.idTokenIssuer`.
   */
  impliedIdTokenIssuer?(metadata: oidc.ServerMetadata): string | undefined;
  /** Who connected, from the token response (and its validated ID token claims, for OIDC). */
  identity(ctx: KindContext, config: oidc.Configuration, response: TokenResponse): Promise<UpstreamIdentity>;
  /** Who an access token belongs to, later (no token response at hand). */
  identityOf(ctx: KindContext, config: oidc.Configuration, tokens: UpstreamTokens): Promise<UpstreamIdentity>;
}

export type AuthorizationCodeKind = AuthKind & RedirectAuthorizer & Refresher & IdentityFetcher & Revoker;

export function createAuthorizationCodeKind<K extends RedirectAuth["kind"]>(options: AuthorizationCodeKindOptions<K>): AuthorizationCodeKind {
  const configure = async (ctx: KindContext) => {
    const auth = redirectAuthOf(ctx, options.kind);
    const metadata = await options.serverMetadata(ctx, auth);
    // The file's, else the one the server's own metadata implies (Entra's `{tenantid}` issuer, oidc.ts).
    const idTokenIssuer = auth.idTokenIssuer ?? options.impliedIdTokenIssuer?.(metadata);
    const held: HeldIdToken | undefined = idTokenIssuer === undefined ? undefined : {};
    return { auth, held, idTokenIssuer, config: await clientConfiguration(ctx, auth, metadata, { heldIdToken: held }) };
  };
  /** The response as the kind reads it: with the held ID token back, once checked (id-token-issuer.ts). */
  const withHeldIdToken = (
    ctx: KindContext,
    idTokenIssuer: string | undefined,
    config: oidc.Configuration,
    held: HeldIdToken | undefined,
    response: TokenResponse,
    checks: { nonce?: string; required: boolean },
  ): TokenResponse => {
    if (!held || idTokenIssuer === undefined) return response;
    const claims = checkHeldIdToken(ctx.connector.name, idTokenIssuer, held, { clientId: config.clientMetadata().client_id, ...checks });
    if (!claims) return response;
    return {
      ...response,
      id_token: held.idToken,
      claims: () => claims as oidc.IDToken,
      expiresIn: () => response.expiresIn(),
    } as TokenResponse;
  };

  return {
    kind: options.kind,

    async authorizationRequest(ctx, state) {
      const { auth, config } = await configure(ctx);
      const checks: AuthorizationChecks = { state: state ?? oidc.randomState() };
      const scopes = options.openid && !ctx.upstreamScopes.includes("openid") ? ["openid", ...ctx.upstreamScopes] : ctx.upstreamScopes;
      // The connector's extra parameters first: the schema refuses the names below, and they are set last anyway.
      const parameters: Record<string, string> = { ...auth.authorizationParams, redirect_uri: ctx.callbackUrl, response_type: "code", state: checks.state };
      if (scopes.length > 0) parameters.scope = scopes.join(auth.scopeSeparator);
      if (auth.pkce) {
        // RFC 7636 with S256 (RFC 9700 §2.1.1): the code is useless to whoever intercepts it without the verifier.
        checks.codeVerifier = oidc.randomPKCECodeVerifier();
        parameters.code_challenge = await oidc.calculatePKCECodeChallenge(checks.codeVerifier);
        parameters.code_challenge_method = "S256";
      }
      if (options.openid) {
        checks.nonce = oidc.randomNonce();
        parameters.nonce = checks.nonce;
      }
      return { url: oidc.buildAuthorizationUrl(config, parameters), checks };
    },

    async exchangeCode(ctx, callbackUrl, checks) {
      const { idTokenIssuer, config, held } = await configure(ctx);
      // The redirect_uri of the token request must be the one of the authorization request
      // (RFC 6749 §4.1.3), whatever host or proxy the callback arrived through.
      // Every parameter goes to openid-client, `iss` included: where the upstream sends one, it must be
      // this connector's issuer (RFC 9207 §2.4, the mix-up defence), and an upstream whose metadata says it
      // always sends one is refused without it.
      const current = new URL(ctx.callbackUrl);
      for (const [name, value] of callbackUrl.searchParams) current.searchParams.append(name, value);
      // A held ID token (auth.idTokenIssuer) is checked below, nonce included, instead of by openid-client.
      const ownCheck = held !== undefined;
      const granted = await upstreamCall(ctx.connector, "code exchange", () =>
        oidc.authorizationCodeGrant(config, current, {
          pkceCodeVerifier: checks.codeVerifier,
          expectedState: checks.state,
          expectedNonce: options.openid && !ownCheck ? checks.nonce : undefined,
          idTokenExpected: options.openid && !ownCheck,
        }),
      );
      const response = withHeldIdToken(ctx, idTokenIssuer, config, held, granted, {
        nonce: options.openid ? checks.nonce : undefined,
        required: options.openid,
      });
      const tokens = toUpstreamTokens(response, ctx.connector);
      if (!hasValues(ctx.connector)) return { tokens, identity: await options.identity(ctx, config, response) };
      // The connector's `values`: from this response, then from their calls; identity.url may use them.
      const values = { ...valuesFromTokenResponse(ctx, response as Record<string, unknown>, true), ...(await valuesFromCalls(ctx, tokens.accessToken)) };
      return { tokens: { ...tokens, values }, identity: await options.identity({ ...ctx, values }, config, response) };
    },

    needsRefreshToken: true,
    async refresh(ctx, refreshToken) {
      const { idTokenIssuer, config, held } = await configure(ctx);
      const refreshed = await upstreamCall(ctx.connector, "refresh", () => oidc.refreshTokenGrant(config, refreshToken));
      // OIDC Core §12.2: a refreshed ID token has no nonce, and may be absent.
      const response = withHeldIdToken(ctx, idTokenIssuer, config, held, refreshed, { required: false });
      const tokens = toUpstreamTokens(response, ctx.connector);
      // A value a refresh response carries again (Salesforce's instance_url) replaces the kept one; one it leaves out is kept.
      const values = hasValues(ctx.connector) ? valuesFromTokenResponse(ctx, response as Record<string, unknown>, false) : undefined;
      return values ? { ...tokens, values } : tokens;
    },

    async fetchIdentity(ctx, tokens) {
      const { config } = await configure(ctx);
      return options.identityOf(ctx, config, tokens);
    },

    async revoke(ctx, token, tokenTypeHint) {
      // `auth.revocation` (oauth2): an upstream that revokes its own way (custom-revocation.ts).
      const auth: RedirectAuth = redirectAuthOf(ctx, options.kind);
      if (auth.kind === "oauth2" && auth.revocation) return revokeAsDescribed(ctx, auth.revocation, requireCredentials(ctx), token, tokenTypeHint);
      const { config } = await configure(ctx);
      if (!config.serverMetadata().revocation_endpoint) return false;
      await upstreamCall(ctx.connector, "revocation", () =>
        oidc.tokenRevocation(config, token, tokenTypeHint ? { token_type_hint: tokenTypeHint } : undefined),
      );
      return true;
    },
  };
}

/** Fills a template field of the connector with the context's hostname. */
export function filled(ctx: KindContext, template: string): string;
export function filled(ctx: KindContext, template: string | undefined): string | undefined;
export function filled(ctx: KindContext, template: string | undefined): string | undefined {
  return template === undefined
    ? undefined
    : fillTemplate(template, { hostname: ctx.hostname, values: ctx.values, pathPrefix: ctx.connector.hostname?.pathPrefix });
}
