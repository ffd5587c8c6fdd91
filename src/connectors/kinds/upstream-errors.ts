/**
 * The one place where openid-client, oauth4webapi, jose and network errors
 * become the broker's errors. Nothing from the upstream
 * exchange is attached as `cause`: those errors carry the callback
 * parameters (the code), token responses and ID token claims, and a logger
 * would print them. Only a sanitized summary goes to `detail` (logged, never
 * sent).
 */
import * as oidc from "openid-client";
import { AccessDenied, BrokerError, InvalidRequest, UpstreamError, UpstreamTimeout } from "../../errors.js";
import { UpstreamInvalidGrant } from "../errors.js";
import type { ConnectorConfig } from "../schema.js";

/**
 * Token endpoint error codes, with the non-standard spellings of upstreams
 * that predate RFC 6749's (GitHub: `bad_verification_code`,
 * `bad_refresh_token`, `incorrect_client_credentials`).
 */
const INVALID_GRANT_CODES = new Set(["invalid_grant", "bad_verification_code", "bad_refresh_token"]);
const INVALID_CLIENT_CODES = new Set(["invalid_client", "unauthorized_client", "incorrect_client_credentials"]);

/** What the broker was doing when the upstream failed, for the messages. */
export type UpstreamStep =
  | "discovery"
  | "authorization"
  | "code exchange"
  | "refresh"
  | "identity"
  | "revocation"
  | "password grant"
  | "assertion grant"
  | "client credentials grant"
  | "credential check";

/** The steps that call the upstream's token endpoint, where a 401 is about the client (RFC 6749 §5.2). */
const TOKEN_ENDPOINT_STEPS = new Set<UpstreamStep>(["code exchange", "refresh", "password grant", "assertion grant", "client credentials grant"]);

/** What an upstream's `invalid_grant` refused, by step (RFC 6749 §5.2). */
const REFUSED_GRANT: Partial<Record<UpstreamStep, string>> = {
  refresh: "refresh token",
  "password grant": "user name and password",
  "assertion grant": "assertion",
  "client credentials grant": "client credentials",
};

function refusedGrant(step: UpstreamStep): string {
  return REFUSED_GRANT[step] ?? "authorization code";
}

/**
 * Text the upstream sent, fit for a log line: one line, short, and with
 * anything that looks like a token (long base64-ish runs) blanked out.
 */
export function sanitizeUpstreamText(text: unknown, max = 200): string | undefined {
  if (typeof text !== "string" || text === "") return undefined;
  const oneLine = text.replace(/\s+/g, " ").replace(/[A-Za-z0-9._~+/=-]{24,}/g, "[redacted]");
  return oneLine.length > max ? `${oneLine.slice(0, max)}…` : oneLine;
}

function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && chain.length < 6; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}

const TIMEOUT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "ETIMEDOUT", "OAUTH_TIMEOUT"]);

function isTimeout(err: unknown): boolean {
  return causes(err).some((e) => {
    const { name, code } = e as { name?: string; code?: string };
    return name === "TimeoutError" || (code !== undefined && TIMEOUT_CODES.has(code));
  });
}

/** A connection-level failure: undici's `fetch failed` TypeError, or a socket error code. */
function networkCode(err: unknown): string | undefined {
  for (const e of causes(err)) {
    const { code, message } = e as { code?: string; message?: string };
    if (typeof code === "string" && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code)) return code;
    if (e instanceof TypeError && message === "fetch failed") return "fetch failed";
  }
  return undefined;
}

/** The attribute an oauth4webapi check compared (`state`, `iss`, `nonce`…), from its error's cause. */
function comparedAttribute(err: oidc.ClientError): string | undefined {
  const processing = err.cause as { message?: string; cause?: { claim?: string; attribute?: string } } | undefined;
  if (processing?.cause?.claim) return processing.cause.claim;
  if (processing?.cause?.attribute) return processing.cause.attribute;
  const message = processing?.message ?? "";
  if (/"state"/.test(message)) return "state";
  if (/"iss"/.test(message)) return "iss";
  return undefined;
}

/**
 * Maps any error of an upstream operation to the broker's hierarchy and
 * throws it. Broker errors pass through; programming mistakes (TypeError
 * other than a failed fetch) are rethrown as they are.
 */
export function throwUpstreamError(err: unknown, connector: Pick<ConnectorConfig, "id" | "name">, step: UpstreamStep): never {
  // Ours already (a refused address from the outbound fetch), possibly wrapped by openid-client.
  const ours = causes(err).find((e) => e instanceof BrokerError);
  if (ours) throw ours;
  const name = connector.name;

  if (err instanceof oidc.ResponseBodyError) {
    const detail = `${connector.id} ${step}: HTTP ${err.status} ${err.error}${sanitizeUpstreamText(err.error_description) ? `: ${sanitizeUpstreamText(err.error_description)}` : ""}`;
    // RFC 6749 §5.2: the code or refresh token is invalid, expired, revoked or was issued to another client.
    if (INVALID_GRANT_CODES.has(err.error))
      throw new UpstreamInvalidGrant(`${name} refused the ${refusedGrant(step)} (invalid_grant); the account must be connected again`, { detail });
    if (INVALID_CLIENT_CODES.has(err.error)) throw new UpstreamError(`${name} refused the broker's client credentials (${err.error})`, { detail });
    throw new UpstreamError(`${name} refused the ${step} (${sanitizeUpstreamText(err.error, 64) ?? "error"})`, { detail });
  }

  if (err instanceof oidc.AuthorizationResponseError) {
    const detail = `${connector.id} ${step}: ${err.error}${sanitizeUpstreamText(err.error_description) ? `: ${sanitizeUpstreamText(err.error_description)}` : ""}`;
    if (err.error === "access_denied") throw new AccessDenied(`the end user denied access at ${name}`, { detail });
    throw new UpstreamError(`${name} refused the authorization request (${sanitizeUpstreamText(err.error, 64)})`, { detail });
  }

  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    // A 401 with WWW-Authenticate: from the token endpoint it is about the client (RFC 6749 §5.2), from a resource about the token.
    const codes = err.cause.map((challenge) => challenge.parameters.error).filter((code): code is string => typeof code === "string");
    const detail = `${connector.id} ${step}: HTTP ${err.status} ${err.cause.map((c) => c.scheme).join(", ")} challenge${codes.length ? ` (${codes.join(", ")})` : ""}`;
    if (codes.includes("invalid_client")) throw new UpstreamError(`${name} refused the broker's client credentials (invalid_client)`, { detail });
    if (codes.includes("invalid_grant"))
      throw new UpstreamInvalidGrant(`${name} refused the ${refusedGrant(step)} (invalid_grant); the account must be connected again`, { detail });
    // A token endpoint authenticates the client, never an access token: a bare Basic challenge there is invalid_client.
    if (TOKEN_ENDPOINT_STEPS.has(step)) throw new UpstreamError(`${name} refused the broker's client credentials (HTTP ${err.status})`, { detail });
    throw new UpstreamError(`${name} refused the access token (HTTP ${err.status})`, { detail });
  }

  if (isTimeout(err)) throw new UpstreamTimeout(`${name} did not answer in time`, { detail: `${connector.id} ${step}: timeout` });

  const network = networkCode(err);
  if (network) throw new UpstreamError(`${name} could not be reached`, { detail: `${connector.id} ${step}: ${network}` });

  if (err instanceof oidc.ClientError) {
    const detail = `${connector.id} ${step}: ${err.code ?? "client error"}: ${err.message}${err.cause instanceof Error ? ` (${err.cause.message.split("\n")[0]})` : ""}`;
    const attribute = comparedAttribute(err);
    // RFC 9700 §4.7 (CSRF), §4.4 (mix-up), OIDC Core §3.1.3.7 (nonce): a response that fails these is not the user's.
    if (attribute === "state") throw new InvalidRequest(`the ${name} response does not match this sign-in (state)`, { detail });
    if (attribute === "iss") throw new InvalidRequest(`the authorization response did not come from ${name} (iss)`, { detail });
    if (attribute === "nonce") throw new InvalidRequest(`the ${name} ID token does not match this sign-in (nonce)`, { detail });
    if (err.code === "OAUTH_RESPONSE_IS_NOT_CONFORM") {
      const status = (err.cause as { status?: unknown } | undefined)?.status;
      throw new UpstreamError(`${name} answered ${typeof status === "number" ? `HTTP ${status}` : "unexpectedly"} during the ${step}`, { detail });
    }
    if (err.code === "OAUTH_HTTP_REQUEST_FORBIDDEN") throw new UpstreamError(`${name} must be reached over https`, { detail });
    if (err.code === "OAUTH_INVALID_SERVER_METADATA" || err.code === "OAUTH_MISSING_SERVER_METADATA")
      throw new UpstreamError(`${name} has an invalid discovery document`, { detail });
    if (err.code === "OAUTH_JWT_CLAIM_COMPARISON_FAILED" || err.code === "OAUTH_JWT_TIMESTAMP_CHECK_FAILED")
      throw new UpstreamError(`${name} sent an ID token that failed validation`, { detail });
    throw new UpstreamError(`${name} sent an invalid response during the ${step}`, { detail });
  }

  // A TypeError that is not a failed fetch is a bad argument: a programming mistake, not the upstream's.
  if (err instanceof TypeError) throw err;
  throw new UpstreamError(`${name} failed during the ${step}`, {
    detail: `${connector.id} ${step}: ${err instanceof Error ? `${err.name}: ${err.message.split("\n")[0]}` : String(err)}`,
  });
}

/** Runs an upstream operation and maps its failure. */
export async function upstreamCall<T>(connector: Pick<ConnectorConfig, "id" | "name">, step: UpstreamStep, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    throwUpstreamError(err, connector, step);
  }
}
