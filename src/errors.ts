/**
 * The one error hierarchy of the broker. Code throws; one express error
 * middleware (src/http/error-handler.ts) renders. Only `code` and
 * `description` of an exposed error leave the server; `detail` and `cause`
 * go to the log only. Anything not exposed is rendered as `server_error`.
 */

export interface BrokerErrorOptions {
  /** Operator-facing detail: logged, never sent to the client. */
  detail?: string;
  cause?: unknown;
  /** Extra response headers (e.g. Retry-After, WWW-Authenticate). */
  headers?: Record<string, string>;
  /**
   * Extra fields of a JSON error response, beside `error` and
   * `error_description` (e.g. `elicitations`: what the end user can do
   * about it). Sent only with an exposed error, never on an HTML page.
   */
  body?: Record<string, unknown>;
}

export class BrokerError extends Error {
  override name = "BrokerError";
  /** Whether `code` and `description` may be shown to the client. */
  readonly expose: boolean;
  readonly detail: string | undefined;
  readonly headers: Record<string, string>;
  readonly body: Record<string, unknown> | undefined;

  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
    options: BrokerErrorOptions = {},
  ) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause });
    this.expose = status < 500 || status === 502 || status === 503 || status === 504;
    this.detail = options.detail;
    this.headers = options.headers ?? {};
    this.body = options.body;
  }
}

/**
 * An OAuth 2.0 protocol error (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1).
 * `redirectable` is false for errors that must never be sent to the
 * redirect URI: an unknown client or an unregistered redirect URI
 * (RFC 6749 §4.1.2.1, RFC 9700 §4.11: no open redirector).
 */
export class OAuthError extends BrokerError {
  override name = "OAuthError";
  readonly redirectable: boolean = true;
}

function oauthError(status: number, code: string, redirectable = true) {
  return class OAuthProtocolError extends OAuthError {
    override name = code;
    override readonly redirectable = redirectable;
    constructor(description: string, options?: BrokerErrorOptions) {
      super(status, code, description, options);
    }
  };
}

// RFC 6749 §4.1.2.1 / §5.2, RFC 6750 §3.1, RFC 8628 §3.5, OIDC Core §3.1.2.6.
export const InvalidRequest = oauthError(400, "invalid_request");
export const InvalidClient = oauthError(401, "invalid_client", false);
export const InvalidGrant = oauthError(400, "invalid_grant");
export const UnauthorizedClient = oauthError(400, "unauthorized_client");
export const UnsupportedGrantType = oauthError(400, "unsupported_grant_type");
export const UnsupportedResponseType = oauthError(400, "unsupported_response_type");
export const InvalidScope = oauthError(400, "invalid_scope");
export const AccessDenied = oauthError(403, "access_denied");
export const ServerError = oauthError(500, "server_error");
export const TemporarilyUnavailable = oauthError(503, "temporarily_unavailable");
export const InvalidToken = oauthError(401, "invalid_token");
export const InsufficientScope = oauthError(403, "insufficient_scope");
export const InvalidRedirectUri = oauthError(400, "invalid_redirect_uri", false);
export const InvalidRequestUri = oauthError(400, "invalid_request_uri");
export const AuthorizationPending = oauthError(400, "authorization_pending");
export const SlowDown = oauthError(400, "slow_down");
export const ExpiredToken = oauthError(400, "expired_token");
export const LoginRequired = oauthError(400, "login_required");
// RFC 8707 §2, RFC 8693 §2.2.2: a resource or audience the broker does not issue tokens for (unknown, malformed, several, another than the grant's).
export const InvalidTarget = oauthError(400, "invalid_target");
// RFC 7591 §3.2.2: dynamic client registration.
export const InvalidClientMetadata = oauthError(400, "invalid_client_metadata", false);
/**
 * The broker's own token-endpoint error (docs/authorization-server.md): the
 * end user must connect (or reconnect) an account first; the body's
 * `elicitations` say where (MCP URL-mode elicitations).
 */
export const ConnectionRequired = oauthError(400, "connection_required");

/** Whether `err` refuses a token as such (`invalid_token`), not a failure to check it (Redis down: passed on, a 503). */
export function isInvalidToken(err: unknown): err is BrokerError {
  return err instanceof BrokerError && err.code === "invalid_token";
}

function apiError(status: number, code: string) {
  return class ApiError extends BrokerError {
    override name = code;
    constructor(description: string, options?: BrokerErrorOptions) {
      super(status, code, description, options);
    }
  };
}

// Non-OAuth JSON APIs (admin, accounts, proxy): `{ error, error_description, request_id }`.
export const BadRequest = apiError(400, "invalid_request");
export const ValidationFailed = apiError(400, "validation_failed");
export const Unauthorized = apiError(401, "unauthorized");
export const Forbidden = apiError(403, "forbidden");
export const NotFound = apiError(404, "not_found");
export const MethodNotAllowed = apiError(405, "method_not_allowed");
export const Conflict = apiError(409, "conflict");
export const PayloadTooLarge = apiError(413, "payload_too_large");
export const UnsupportedMediaType = apiError(415, "unsupported_media_type");
export const TooManyRequests = apiError(429, "rate_limited");
/** A proxied call over its connector's declared upstream rate limits (src/proxy/rate-limit.ts). */
export const UpstreamRateLimited = apiError(429, "upstream_rate_limited");
export const UpstreamError = apiError(502, "upstream_error");
export const ServiceUnavailable = apiError(503, "service_unavailable");
export const UpstreamTimeout = apiError(504, "upstream_timeout");
