/**
 * What an auth kind can do, as small capability interfaces (after dex's
 * `CallbackConnector` / `RefreshConnector`). A kind implements only the
 * capabilities it has; core code asks with a type guard ("can you
 * refresh?") where it needs one, and a missing optional capability is a
 * deliberate no-op there, not an error.
 */
import type { AuthKindName, ConnectorConfig } from "../schema.js";
import type { UpstreamClientCredentials } from "../credentials.js";
import type { CheckedAddress } from "../../net/outbound.js";

/** Upstream tokens as a kind returns them; the vault seals them. */
export interface UpstreamTokens {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  /** As the upstream spelled it, lower-cased (`bearer`). */
  tokenType: string;
  expiresAt?: Date;
  /** The upstream's `scope` of the response, as sent (some upstreams separate with ","). */
  scope?: string;
}

/** Who connected, as the upstream says. `subject` is the stable upstream user id. */
export interface UpstreamIdentity {
  subject: string;
  email?: string;
  name?: string;
  /** What the upstream returned about the user (claims or the identity response): opaque, never shown to apps as is. */
  profile: Record<string, unknown>;
}

export interface UpstreamGrant {
  tokens: UpstreamTokens;
  identity: UpstreamIdentity;
}

/** A fetch for upstream calls: SSRF-checked, pinned to the checked address (src/net/outbound.ts). */
export type UpstreamFetch = (url: string | URL, init?: RequestInit & { pinned?: CheckedAddress }) => Promise<Response>;

/**
 * Everything a kind needs for one upstream operation. Built by
 * `createKindContext` (context.ts); kinds never read config or the database.
 */
export interface KindContext {
  connector: ConnectorConfig;
  /** The broker's own client credentials at the upstream; absent for kinds that have none (basic, api_key). */
  credentials?: UpstreamClientCredentials;
  /** The broker's redirect URI at the upstream: `${BROKER_ISSUER}/connect/callback`. */
  callbackUrl: string;
  /** Upstream scope strings to ask for (from `upstreamScopesFor`). */
  upstreamScopes: string[];
  /** For per-server connectors: the hostname that fills `{hostname}`. */
  hostname?: string;
  /**
   * Whether plain-http upstream URLs may be used: only when every http URL
   * of the connector points at a loopback/private host that
   * BROKER_ALLOW_PRIVATE_HOSTS covers (development and tests).
   */
  allowInsecure: boolean;
  fetch: UpstreamFetch;
}

/** The values the callback must be checked against, kept in the connect session between the two legs. */
export interface AuthorizationChecks {
  state: string;
  nonce?: string;
  codeVerifier?: string;
}

/** Authorization code flow with a browser redirect (oauth2, oidc). */
export interface RedirectAuthorizer {
  /**
   * The upstream authorization URL and the checks to remember. `state` is
   * the broker's own (it may encode the connect session); a random one is
   * made when absent.
   */
  authorizationRequest(ctx: KindContext, state?: string): Promise<{ url: URL; checks: AuthorizationChecks }>;
  /** Exchanges the code of the callback URL (state, PKCE, nonce and iss checked) and learns who connected. */
  exchangeCode(ctx: KindContext, callbackUrl: URL, checks: AuthorizationChecks): Promise<UpstreamGrant>;
}

/** Refresh tokens (RFC 6749 §6). The result may carry a new refresh token (rotation) or none (keep the old one). */
export interface Refresher {
  refresh(ctx: KindContext, refreshToken: string): Promise<UpstreamTokens>;
}

/** Learns who an access token belongs to. */
export interface IdentityFetcher {
  fetchIdentity(ctx: KindContext, tokens: UpstreamTokens): Promise<UpstreamIdentity>;
}

/** Revokes an upstream token (RFC 7009). */
export interface Revoker {
  /** Resolves to false when the upstream has no revocation endpoint (nothing was sent). */
  revoke(ctx: KindContext, token: string, tokenTypeHint?: "access_token" | "refresh_token"): Promise<boolean>;
}

/** An auth kind: its name plus whichever capabilities it has. */
export interface AuthKind extends Partial<RedirectAuthorizer & Refresher & IdentityFetcher & Revoker> {
  readonly kind: AuthKindName;
}

export function isRedirectAuthorizer(kind: AuthKind): kind is AuthKind & RedirectAuthorizer {
  return typeof kind.authorizationRequest === "function" && typeof kind.exchangeCode === "function";
}

export function isRefresher(kind: AuthKind): kind is AuthKind & Refresher {
  return typeof kind.refresh === "function";
}

export function isIdentityFetcher(kind: AuthKind): kind is AuthKind & IdentityFetcher {
  return typeof kind.fetchIdentity === "function";
}

export function isRevoker(kind: AuthKind): kind is AuthKind & Revoker {
  return typeof kind.revoke === "function";
}
