/**
 * `oidc`: an OpenID Connect upstream. Endpoints come from discovery at the
 * issuer (cached), with the file's overrides on top; who connected comes
 * from the validated ID token, completed by userinfo when the ID token
 * lacks email, email_verified or name — or from `identity.url` when the
 * file has one.
 */
import { LRUCache } from "lru-cache";
import * as oidc from "openid-client";
import { UpstreamError } from "../../errors.js";
import { createAuthorizationCodeKind, filled, type AuthorizationCodeKind, type RedirectAuth } from "./authorization-code.js";
import { identityFromProfile, identityFromUrl, pickPath, profileFields, type IdentityPaths, type ProfileFields } from "./identity.js";
import type { KindContext, UpstreamIdentity } from "./types.js";
import { upstreamCall } from "./upstream-errors.js";
import { TENANT_PLACEHOLDER } from "../schema-fields.js";

/** ID token claims about the token itself, not the user: kept out of the account's profile. */
const PROTOCOL_CLAIMS = ["iss", "aud", "exp", "iat", "nbf", "nonce", "at_hash", "c_hash", "s_hash", "auth_time", "azp", "sid", "jti", "acr", "amr"];

/**
 * The ID token's email and name, completed by userinfo, whose answer wins
 * where both have one (it is the later answer). `email_verified` speaks of
 * one address (OIDC Core §5.1): it never travels from one document to the
 * other's email, so an address the ID token calls verified cannot lend that
 * to a different address userinfo names.
 */
function completedByUserinfo(fromIdToken: ProfileFields, fromUserinfo: ProfileFields): ProfileFields {
  const sameEmail = fromUserinfo.email === undefined || fromUserinfo.email === fromIdToken.email;
  return {
    email: sameEmail ? fromIdToken.email : fromUserinfo.email,
    emailVerified: sameEmail ? (fromUserinfo.emailVerified ?? fromIdToken.emailVerified) : fromUserinfo.emailVerified,
    name: fromUserinfo.name ?? fromIdToken.name,
  };
}

/** Microsoft's placeholder for the tenant in a multi-tenant discovery document's issuer. */
const TENANT_ID_TEMPLATE = "{tenantid}";

/** OIDC Discovery §4: the issuer with `/.well-known/openid-configuration` appended to its path. */
function wellKnownUrl(issuer: string): URL {
  const url = new URL(issuer);
  url.pathname = `${url.pathname.replace(/\/$/, "")}/.well-known/openid-configuration`;
  return url;
}

/**
 * OIDC Discovery §4.3: the document's `issuer` must be the one asked for.
 * Entra's multi-tenant endpoints (`common`, `organizations`, `consumers`)
 * answer one document for every tenant, whose issuer is
 * `https://login.microsoftonline.com/{tenantid}/v2.0`: it matches the
 * issuer asked for when one path segment in place of `{tenantid}` makes them
 * equal. Its ID tokens are then checked against the template, with each
 * token's own `tid` (impliedIdTokenIssuer below).
 */
export function issuerMatches(requested: string, discovered: string): boolean {
  const normal = (value: string) => {
    try {
      return new URL(value).href;
    } catch {
      return undefined;
    }
  };
  if (normal(requested) !== undefined && normal(requested) === normal(discovered)) return true;
  const parts = discovered.split(TENANT_ID_TEMPLATE);
  if (parts.length !== 2) return false;
  const [before, after] = parts as [string, string];
  if (!requested.startsWith(before) || !requested.endsWith(after) || requested.length <= before.length + after.length) return false;
  return /^[A-Za-z0-9.-]{1,64}$/.test(requested.slice(before.length, requested.length - after.length));
}

export interface OidcKindOptions {
  /** How long discovered metadata is reused before the issuer is asked again. @defaultValue 10 minutes */
  discoveryTtlMs?: number;
  /** At most this many issuers are remembered (per-server connectors have one per hostname). @defaultValue 1000 */
  discoveryCacheSize?: number;
}

export function createOidcKind(options: OidcKindOptions = {}): AuthorizationCodeKind {
  // Concurrent requests for one issuer share one discovery; a failed one is not remembered, the next request asks again.
  const discovered = new LRUCache<string, oidc.ServerMetadata, KindContext>({
    max: options.discoveryCacheSize ?? 1000,
    ttl: options.discoveryTtlMs ?? 600_000,
    fetchMethod: (issuer, _stale, { context: ctx }) =>
      upstreamCall(ctx.connector, "discovery", async () => {
        // The document itself is asked for, so the issuer check below is ours: openid-client's
        // tolerance of Entra's template holds only for its own host and only inside the
        // Configuration it builds (a marker that copying the metadata drops).
        const config = await oidc.discovery(wellKnownUrl(issuer), ctx.connector.id, undefined, undefined, {
          [oidc.customFetch]: (url, init) => ctx.fetch(url, init as RequestInit),
          execute: ctx.allowInsecure ? [oidc.allowInsecureRequests] : [],
          timeout: 30,
        });
        const metadata = config.serverMetadata();
        if (!issuerMatches(issuer, metadata.issuer))
          throw new UpstreamError(`${ctx.connector.name}'s discovery document names the issuer ${metadata.issuer}, not ${issuer}`);
        return metadata;
      }),
  });

  function discover(ctx: KindContext, issuer: string): Promise<oidc.ServerMetadata> {
    return discovered.forceFetch(issuer, { context: ctx });
  }

  async function serverMetadata(ctx: KindContext, auth: Extract<RedirectAuth, { kind: "oidc" }>): Promise<oidc.ServerMetadata> {
    const metadata = { ...(await discover(ctx, filled(ctx, auth.issuer))) };
    if (auth.authorizationUrl) metadata.authorization_endpoint = filled(ctx, auth.authorizationUrl);
    if (auth.tokenUrl) metadata.token_endpoint = filled(ctx, auth.tokenUrl);
    if (auth.userinfoUrl) metadata.userinfo_endpoint = filled(ctx, auth.userinfoUrl);
    if (auth.revocationUrl) metadata.revocation_endpoint = filled(ctx, auth.revocationUrl);
    return metadata;
  }

  function claimPaths(ctx: KindContext): IdentityPaths {
    const identity = ctx.connector.identity;
    return {
      subject: identity?.subject ?? "sub",
      email: identity?.email ?? "email",
      emailVerified: identity?.emailVerified ?? "email_verified",
      name: identity?.name ?? "name",
    };
  }

  async function userinfo(ctx: KindContext, config: oidc.Configuration, accessToken: string, subject: string | typeof oidc.skipSubjectCheck) {
    return upstreamCall(ctx.connector, "identity", () => oidc.fetchUserInfo(config, accessToken, subject));
  }

  return createAuthorizationCodeKind({
    kind: "oidc",
    openid: true,
    serverMetadata,
    // Entra's multi-tenant issuer: each ID token names its user's tenant, `{tid}` of id-token-issuer.ts.
    impliedIdTokenIssuer: (metadata) =>
      metadata.issuer.includes(TENANT_ID_TEMPLATE) ? metadata.issuer.replace(TENANT_ID_TEMPLATE, TENANT_PLACEHOLDER) : undefined,
    async identity(ctx, config, response): Promise<UpstreamIdentity> {
      if (ctx.connector.identity?.url) return identityFromUrl(ctx, response.access_token);
      const claims = response.claims();
      if (!claims) throw new UpstreamError(`${ctx.connector.name} sent no ID token`);
      let profile: Record<string, unknown> = Object.fromEntries(Object.entries(claims).filter(([name]) => !PROTOCOL_CLAIMS.includes(name)));
      const paths = claimPaths(ctx);
      let fields = profileFields(profile, paths);
      const incomplete =
        pickPath(profile, paths.subject) === undefined || fields.email === undefined || fields.emailVerified === undefined || fields.name === undefined;
      if (incomplete && config.serverMetadata().userinfo_endpoint) {
        // OIDC Core §5.3.2: userinfo's `sub` must equal the ID token's; fetchUserInfo checks it.
        const info = { ...(await userinfo(ctx, config, response.access_token, claims.sub)) };
        fields = completedByUserinfo(fields, profileFields(info, paths));
        profile = { ...profile, ...info };
      }
      const { subject } = identityFromProfile(ctx, profile, paths);
      return { subject, ...fields, profile };
    },
    async identityOf(ctx, config, tokens) {
      if (ctx.connector.identity?.url) return identityFromUrl(ctx, tokens.accessToken);
      if (!config.serverMetadata().userinfo_endpoint)
        throw new UpstreamError(`${ctx.connector.name} has no userinfo endpoint to say who an access token belongs to`);
      return identityFromProfile(ctx, { ...(await userinfo(ctx, config, tokens.accessToken, oidc.skipSubjectCheck)) }, claimPaths(ctx));
    },
  });
}
