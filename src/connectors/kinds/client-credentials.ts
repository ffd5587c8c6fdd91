/**
 * `client_credentials` upstream (RFC 6749 §4.4): the connector app's own
 * token. Connecting asks the end user nothing; the account stands for the
 * broker's client at the upstream (its subject is the client id unless
 * `identity.url` says otherwise).
 *
 * The token is the same for every account of that client: with a shared
 * token cache in the context (Redis, see ../shared-tokens.ts) one token per
 * connector, token endpoint, client id, hostname and scopes is fetched and reused by every
 * account — connecting and each account's scheduled "refresh" take it from
 * the cache while it is valid for longer than `refresh.marginSeconds`, and
 * one caller fetches the next one when it is not. A refresh after the
 * upstream refused the cached token (a 401 at the proxy) drops it from the
 * cache first, if no other process has replaced it yet.
 */
import { createHash } from "node:crypto";
import * as oidc from "openid-client";
import type { ConnectorOfKind } from "../schema.js";
import { filled, tokenEndpointConfiguration, toUpstreamTokens } from "./authorization-code.js";
import { identityFromUrl } from "./identity.js";
import type { AuthKind, IdentityFetcher, KindContext, Refresher, ServiceTokenFetcher, UpstreamIdentity, UpstreamTokens } from "./types.js";
import { upstreamCall } from "./upstream-errors.js";

function clientCredentialsAuthOf(ctx: KindContext): ConnectorOfKind<"client_credentials">["auth"] {
  if (ctx.connector.auth.kind !== "client_credentials")
    throw new TypeError(`connector "${ctx.connector.id}" is ${ctx.connector.auth.kind}, not client_credentials`);
  return ctx.connector.auth;
}

/** What makes two accounts' tokens the same token: the client, where it is used, and for which scopes. */
export function sharedTokenKey(ctx: KindContext): string {
  // The token endpoint too: two brokers (or a changed file) with the same connector id and client id at
  // different upstreams must not share a token (seen between two test files sharing one Redis).
  const parts = [
    ctx.connector.id,
    filled(ctx, clientCredentialsAuthOf(ctx).tokenUrl),
    ctx.credentials?.clientId ?? "",
    ctx.hostname ?? "",
    [...ctx.upstreamScopes].sort().join(" "),
  ];
  return `${ctx.connector.id}:${createHash("sha256").update(JSON.stringify(parts)).digest("base64url")}`;
}

export function createClientCredentialsKind(): AuthKind & ServiceTokenFetcher & Refresher & IdentityFetcher {
  async function requestToken(ctx: KindContext): Promise<UpstreamTokens> {
    const auth = clientCredentialsAuthOf(ctx);
    const config = await tokenEndpointConfiguration(ctx, auth.tokenUrl, auth.tokenAuthMethod);
    const parameters: Record<string, string> = { ...auth.tokenParams };
    if (ctx.upstreamScopes.length > 0) parameters.scope = ctx.upstreamScopes.join(" ");
    const response = await upstreamCall(ctx.connector, "client credentials grant", () => oidc.clientCredentialsGrant(config, parameters));
    // RFC 6749 §4.4.3: no refresh token here; the next token is another grant.
    return { ...toUpstreamTokens(response, ctx.connector), refreshToken: undefined };
  }

  async function sharedToken(ctx: KindContext, refusedAccessToken?: string): Promise<UpstreamTokens> {
    if (!ctx.sharedTokens) return requestToken(ctx);
    // A token the upstream refused before its expiry would otherwise be served until then.
    if (refusedAccessToken !== undefined) await ctx.sharedTokens.drop(sharedTokenKey(ctx), refusedAccessToken);
    return ctx.sharedTokens.getOrFetch(sharedTokenKey(ctx), ctx.connector.refresh.marginSeconds, () => requestToken(ctx));
  }

  async function identityOf(ctx: KindContext, tokens: UpstreamTokens): Promise<UpstreamIdentity> {
    if (ctx.connector.identity?.url) return identityFromUrl(ctx, tokens.accessToken);
    return { subject: ctx.credentials?.clientId ?? ctx.connector.id, name: ctx.connector.name, profile: {} };
  }

  return {
    kind: "client_credentials",
    subjectFields: () => [],

    async fetchServiceGrant(ctx) {
      const tokens = await sharedToken(ctx);
      return { tokens, identity: await identityOf(ctx, tokens) };
    },

    // RFC 6749 §4.4.3: no refresh token; the next token is another grant.
    needsRefreshToken: false,
    refresh: (ctx, _refreshToken, options) => sharedToken(ctx, options?.refusedAccessToken),
    fetchIdentity: identityOf,
  };
}
