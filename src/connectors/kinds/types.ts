/**
 * What an auth kind can do, as small capability interfaces (after dex's
 * `CallbackConnector` / `RefreshConnector`). A kind implements only the
 * capabilities it has; core code asks with a type guard ("can you
 * refresh?") where it needs one, and a missing optional capability is a
 * deliberate no-op there, not an error.
 */
import type { ConnectorConfig } from "../schema.js";
import type { AuthKindName } from "./catalog.js";
import type { UpstreamClientCredentials } from "../credentials.js";
import type { CheckedAddress } from "../../net/outbound.js";
import type { ExpirySource } from "../token-expiry.js";

/** Upstream tokens as a kind returns them; the vault seals them. */
export interface UpstreamTokens {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  /** As the upstream spelled it, lower-cased (`bearer`). */
  tokenType: string;
  expiresAt?: Date;
  /** Where `expiresAt` came from: the upstream's `expires_in`, or an inference (../token-expiry.ts). */
  expirySource?: ExpirySource;
  /** The upstream's `scope` of the response, as sent (some upstreams separate with ","). */
  scope?: string;
  /**
   * What the end user typed that the account needs again — basic/api_key
   * values, a jwt_bearer subject. Sealed by the vault like the tokens; never
   * a password of the password grant.
   */
  fields?: Record<string, string>;
  /** The connector's `values` the upstream handed out (upstream-values.ts), kept with the tokens. */
  values?: Record<string, string>;
}

/** Who connected, as the upstream says. `subject` is the stable upstream user id. */
export interface UpstreamIdentity {
  subject: string;
  email?: string;
  /**
   * Whether the upstream vouches that `email` belongs to this user, as it
   * said (an OIDC `email_verified` claim, or `identity.emailVerified`).
   * Absent when it said nothing, and always absent without `email`.
   */
  emailVerified?: boolean;
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
  /** The broker's redirect URI at the upstream: `${BROKER_ISSUER}/connect/callback/<connector>[/<host>]` (context.ts callbackPathFor). */
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
  /** For an existing account: the fields kept in its vault (the jwt_bearer subject a new assertion is made for). */
  fields?: Record<string, string>;
  /** The account's `values` (schema-values.ts), once read: they fill `{values.<name>}` in `identity.url`. */
  values?: Record<string, string>;
  /**
   * Aborts every upstream request of the operation (`fetch` honours it):
   * a total deadline on top of the per-request timeouts, e.g. a refresh that
   * must end while it still holds its lock.
   */
  signal?: AbortSignal;
  /**
   * Upstream tokens shared by every account of a connector app
   * (client_credentials): one token per connector, app credentials,
   * hostname and scopes. Absent: every call fetches its own.
   */
  sharedTokens?: SharedTokenCache;
}

/** A cache of upstream tokens shared across accounts (src/connectors/shared-tokens.ts). */
export interface SharedTokenCache {
  /**
   * The cached tokens for `key` while they stay valid for more than
   * `marginSeconds`; otherwise `fetch` is called once (across processes) and
   * its result cached until it expires.
   */
  getOrFetch(key: string, marginSeconds: number, fetch: () => Promise<UpstreamTokens>): Promise<UpstreamTokens>;
  /**
   * Drops the cached tokens of `key` if their access token is `refusedAccessToken`
   * (compare-and-delete: a newer token another process stored stays). Returns whether it dropped them.
   */
  drop(key: string, refusedAccessToken: string): Promise<boolean>;
}

/** One input of a connect page form. */
export interface PromptField {
  /** The form field name and the key of the value. */
  name: string;
  label: string;
  /** A password input, never echoed back on the page. */
  secret: boolean;
  required: boolean;
  /** A regular expression the whole value must match. */
  pattern?: string;
  description?: string;
  /** The HTML autocomplete token (`username`, `current-password`); `off` for keys. */
  autocomplete: string;
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

/**
 * New tokens for an account's expiring ones: a refresh token grant (RFC
 * 6749 §6), whose result may carry a new refresh token (rotation) or none
 * (keep the old one); or, for kinds without a browser (jwt_bearer,
 * client_credentials), simply another grant.
 */
export interface Refresher {
  /** false when a refresh is another grant: an account without a refresh token is still refreshable. */
  readonly needsRefreshToken: boolean;
  /** Whether this connector's accounts are refreshed: absent, all of them (api_key: only those with `auth.session`). */
  refreshes?(connector: ConnectorConfig): boolean;
  refresh(ctx: KindContext, refreshToken: string, options?: RefreshRequest): Promise<UpstreamTokens>;
}

/** Why a refresh is asked for, when it is not just the coming expiry. */
export interface RefreshRequest {
  /** The access token the upstream refused (a 401 at the proxy): a kind that caches tokens must not hand it out again. */
  refusedAccessToken?: string;
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

/**
 * basic / api_key: values the end user types, checked once against
 * `identity.url` (which also says who they belong to) before they are kept.
 */
export interface StaticCredentialChecker {
  /** The inputs of the connect page, from the connector's declared fields. */
  credentialFields(connector: ConnectorConfig): PromptField[];
  /** Throws FormValuesRejected (connectors/errors.ts) when the upstream refuses them. */
  checkCredentials(ctx: KindContext, values: Record<string, string>): Promise<UpstreamIdentity>;
  /**
   * A connector whose key is exchanged for a session token (`auth.session`):
   * the login with the typed values, its token and who it belongs to; the
   * values are kept to log in again. Undefined for a connector without one.
   */
  startSession?(ctx: KindContext, values: Record<string, string>): Promise<UpstreamGrant | undefined>;
}

/**
 * password_grant (RFC 6749 §4.3): the end user's name and password are
 * exchanged once for tokens and then forgotten.
 */
export interface PasswordExchanger {
  /** The user name and password inputs. */
  passwordFields(connector: ConnectorConfig): PromptField[];
  /** Throws FormValuesRejected (connectors/errors.ts) when the upstream refuses them (invalid_grant). */
  exchangePassword(ctx: KindContext, username: string, password: string): Promise<UpstreamGrant>;
}

/** jwt_bearer (RFC 7523 §2.1): signs the assertion the token request carries. */
export interface AssertionSigner {
  /** A fresh, short-lived assertion for `subject` (absent: the broker as itself, or no `sub` where the connector allows). */
  signAssertion(ctx: KindContext, subject: string | undefined): Promise<string>;
}

/**
 * jwt_bearer and client_credentials: tokens without a browser at the
 * upstream. A "refresh" is simply another such token.
 */
export interface ServiceTokenFetcher {
  /** The subject input of the connect page, if the connector asks for one. */
  subjectFields(connector: ConnectorConfig): PromptField[];
  /** Tokens and who they act for; `subject` is what the end user typed (jwt_bearer). */
  fetchServiceGrant(ctx: KindContext, subject: string | undefined): Promise<UpstreamGrant>;
}

/** An auth kind: its name plus whichever capabilities it has. */
export interface AuthKind extends Partial<
  RedirectAuthorizer & Refresher & IdentityFetcher & Revoker & StaticCredentialChecker & PasswordExchanger & AssertionSigner & ServiceTokenFetcher
> {
  readonly kind: AuthKindName;
}

export function isRedirectAuthorizer(kind: AuthKind): kind is AuthKind & RedirectAuthorizer {
  return typeof kind.authorizationRequest === "function" && typeof kind.exchangeCode === "function";
}

export function isRefresher(kind: AuthKind): kind is AuthKind & Refresher {
  return typeof kind.refresh === "function";
}

/** Whether accounts of this connector are refreshed by its kind (the kind can, and does for this connector). */
export function refreshesFor(kind: AuthKind, connector: ConnectorConfig): kind is AuthKind & Refresher {
  return isRefresher(kind) && (kind.refreshes?.(connector) ?? true);
}

export function isIdentityFetcher(kind: AuthKind): kind is AuthKind & IdentityFetcher {
  return typeof kind.fetchIdentity === "function";
}

export function isRevoker(kind: AuthKind): kind is AuthKind & Revoker {
  return typeof kind.revoke === "function";
}

export function isStaticCredentialChecker(kind: AuthKind): kind is AuthKind & StaticCredentialChecker {
  return typeof kind.checkCredentials === "function" && typeof kind.credentialFields === "function";
}

export function isPasswordExchanger(kind: AuthKind): kind is AuthKind & PasswordExchanger {
  return typeof kind.exchangePassword === "function" && typeof kind.passwordFields === "function";
}

export function isAssertionSigner(kind: AuthKind): kind is AuthKind & AssertionSigner {
  return typeof kind.signAssertion === "function";
}

export function isServiceTokenFetcher(kind: AuthKind): kind is AuthKind & ServiceTokenFetcher {
  return typeof kind.fetchServiceGrant === "function" && typeof kind.subjectFields === "function";
}
