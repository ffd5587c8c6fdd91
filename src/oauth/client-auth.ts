/**
 * Client authentication at the token endpoint and the other back-channel
 * endpoints (RFC 6749 §2.3, OIDC Core §9, RFC 7523 §2.2). Each method is a
 * strategy: it says whether a request carries its kind of credentials and
 * checks them. The endpoint finds the one method the request uses, and that
 * must be a method the client accepts. Discovery lists the map's keys.
 * `client_secret_jwt` is not among them: an HMAC key must be kept in a form
 * the broker can compute with, while client secrets are stored only as hashes.
 */
import type { IncomingMessage } from "node:http";
import { createHash } from "node:crypto";
import { createLocalJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from "jose";
import { secretMatches } from "../crypto/secrets.js";
import { InvalidClient, InvalidRequest } from "../errors.js";
import type { Services } from "../services.js";
import { readForm, type FormParameters } from "./body.js";
import type { Authenticator } from "../http/route.js";
import type { Client, ClientAuthMethod } from "../apps/clients.js";
import { resolveClient } from "../apps/metadata-documents.js";

/** What client authentication may use. */
export type ClientAuthServices = Pick<Services, "clients" | "clientMetadataDocuments" | "config" | "redis">;

/** What a strategy looks at: the Authorization header and the form parameters. */
export interface ClientAuthRequest {
  authorization: string | undefined;
  form: FormParameters;
}

export interface ClientAuthStrategy {
  /** Whether the request carries this method's credentials. */
  presentedIn(request: ClientAuthRequest): boolean;
  /** The client the credentials claim to be (not yet proven). Throws `InvalidRequest` for malformed credentials. */
  claimedClientId(request: ClientAuthRequest): string | undefined;
  /** Proves the claim for the registered client (an assertion check would use the services: keys, replay cache). Throws `InvalidClient`. */
  verify(client: Client, request: ClientAuthRequest, services: ClientAuthServices): Promise<void> | void;
}

export interface AuthenticatedClient {
  client: Client;
  method: ClientAuthMethod;
}

/** Parameters that carry client credentials; the endpoint never passes them on to a grant. */
export const CLIENT_AUTH_PARAMETERS = ["client_id", "client_secret", "client_assertion", "client_assertion_type"] as const;

function hasBasicScheme(authorization: string | undefined): authorization is string {
  return authorization !== undefined && /^basic /i.test(authorization);
}

/** application/x-www-form-urlencoded decoding of one Basic credential half (RFC 6749 §2.3.1). */
function formDecode(value: string): string {
  // Most ids and secrets need no decoding (the broker's own are base64url): skip the regex and decoder on the token endpoint's path.
  if (!value.includes("%") && !value.includes("+")) return value;
  return decodeURIComponent(value.replace(/\+/g, " "));
}

/** `Basic base64(urlencode(id):urlencode(secret))` → { id, secret }. */
export function parseBasicCredentials(authorization: string): { clientId: string; clientSecret: string } {
  const encoded = authorization.slice("basic ".length).trim();
  const decoded = Buffer.from(encoded, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (!/^[A-Za-z0-9+/]+=*$/.test(encoded) || colon === -1) throw new InvalidRequest("the Authorization header is not valid Basic credentials");
  try {
    return { clientId: formDecode(decoded.slice(0, colon)), clientSecret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    throw new InvalidRequest("the client credentials in the Authorization header are not form-urlencoded (RFC 6749 §2.3.1)");
  }
}

/**
 * The client's current secret, or its previous one until the end of the
 * overlap of a rotation (Clients.rotateSecret). The expiry is compared here,
 * on every request, so a cached app never stretches the overlap.
 */
function checkSecret(client: Client, secret: string): void {
  // secretMatches compares SHA-256 digests in constant time.
  if (client.secretHash && secretMatches(secret, client.secretHash)) return;
  const previousValid = client.previousSecretHash !== null && client.previousSecretExpiresAt !== null && client.previousSecretExpiresAt.getTime() > Date.now();
  if (previousValid && secretMatches(secret, client.previousSecretHash!)) return;
  throw new InvalidClient("client authentication failed: wrong client secret");
}

const clientSecretBasic: ClientAuthStrategy = {
  presentedIn: (request) => hasBasicScheme(request.authorization),
  claimedClientId(request) {
    const { clientId } = parseBasicCredentials(request.authorization!);
    // A client_id in the body as well is allowed, but must name the same client.
    const bodyClientId = request.form.get("client_id");
    if (bodyClientId !== undefined && bodyClientId !== clientId)
      throw new InvalidRequest("client_id in the body differs from the one in the Authorization header");
    return clientId;
  },
  verify: (client, request) => checkSecret(client, parseBasicCredentials(request.authorization!).clientSecret),
};

const clientSecretPost: ClientAuthStrategy = {
  presentedIn: (request) => request.form.has("client_secret"),
  claimedClientId: (request) => request.form.get("client_id"),
  verify: (client, request) => checkSecret(client, request.form.get("client_secret")!),
};

/** RFC 7523 §2.2: the one `client_assertion_type` of a JWT client assertion. */
export const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/**
 * Algorithms a client may sign its assertion with: asymmetric only, since
 * the key is the app's registered public JWKS (no `none`, no HMAC).
 */
export const CLIENT_ASSERTION_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

/**
 * The longest an assertion may live. Assertions are made per request and
 * used at once (openid-client's live 60 s); a short life bounds both the
 * replay window and how long each `jti` is remembered.
 */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;
const ASSERTION_CLOCK_TOLERANCE_SECONDS = 30;

function readAssertion(request: ClientAuthRequest): { assertion: string; claims: JWTPayload } {
  const type = request.form.get("client_assertion_type");
  if (type !== CLIENT_ASSERTION_TYPE) throw new InvalidRequest(`client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`);
  const assertion = request.form.get("client_assertion");
  if (assertion === undefined) throw new InvalidRequest("client_assertion is missing");
  try {
    return { assertion, claims: decodeJwt(assertion) };
  } catch {
    // RFC 7521 §4.2.1: an invalid assertion fails client authentication.
    throw new InvalidClient("client authentication failed: client_assertion is not a JWT");
  }
}

/** The Redis key remembering a used `jti` of a client (hashed: a `jti` is the client's free text). */
function usedJtiKey(clientId: string, jti: string): string {
  return `client-assertion:jti:${clientId}:${createHash("sha256").update(jti).digest("base64url")}`;
}

/**
 * draft-ietf-oauth-rfc7523bis (after the 2025 audience-injection advisory): a
 * client assertion's `aud` is the broker's issuer identifier and nothing
 * else, a JSON string. An `aud` that may name other parties, or an endpoint
 * URL another server could also claim, lets an attacker who runs one of them
 * (or makes the client believe its endpoint is the broker's) receive an
 * assertion the broker accepts and replay it here. A single-element array
 * is refused too: the draft requires a string, and the clients in use send
 * one (openid-client / oauth4webapi: `aud: as.issuer`).
 */
function checkAssertionAudience(aud: unknown, issuer: string): void {
  if (aud === issuer) return;
  const why = Array.isArray(aud) ? "an array" : typeof aud === "string" ? `"${aud.slice(0, 200)}"` : "missing";
  throw new InvalidClient(`client authentication failed: the client assertion's aud must be the issuer identifier "${issuer}" as a single string, not ${why}`);
}

/**
 * `private_key_jwt` (OIDC Core §9, RFC 7523 §3): a JWT signed with a key of
 * the JWKS registered with the app, `iss` = `sub` = client_id, `aud` the
 * issuer alone (checkAssertionAudience), `exp` required and near, `jti`
 * single use (RFC 7523 §3 item 7: replay protection; kept in Redis until the
 * assertion expires, so every `serve` process refuses a replay).
 */
const privateKeyJwt: ClientAuthStrategy = {
  presentedIn: (request) => presentsAssertion(request),
  claimedClientId(request) {
    const { claims } = readAssertion(request);
    if (typeof claims.sub !== "string" || claims.sub === "") throw new InvalidClient("client authentication failed: the client assertion has no sub");
    const bodyClientId = request.form.get("client_id");
    if (bodyClientId !== undefined && bodyClientId !== claims.sub) throw new InvalidRequest("client_id differs from the sub of the client assertion");
    return claims.sub;
  },
  async verify(client, request, services) {
    const { assertion } = readAssertion(request);
    let keys;
    try {
      keys = createLocalJWKSet(client.jwks as JSONWebKeySet);
    } catch (err) {
      throw new InvalidClient("client authentication failed: the app has no usable JWKS", { detail: "the app's registered jwks is not a JWK Set", cause: err });
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(assertion, keys, {
        algorithms: CLIENT_ASSERTION_ALGORITHMS,
        issuer: client.id,
        subject: client.id,
        // jose accepts any array containing the audience; checkAssertionAudience then asks for it alone.
        audience: services.config.issuer,
        requiredClaims: ["exp", "jti", "iss", "sub", "aud"],
        clockTolerance: ASSERTION_CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError)
        throw new InvalidClient(`client authentication failed: ${assertionProblem(err)}`, { detail: err.code, cause: err });
      // Anything else jwtVerify throws comes from importing the app's key (WebCrypto's DataError for a
      // JWK of the right shape whose values make no key): the app's registration, not the broker, is at fault.
      throw new InvalidClient("client authentication failed: the app has no usable JWKS", {
        detail: "a key of the app's registered jwks cannot be imported",
        cause: err,
      });
    }
    checkAssertionAudience(payload.aud, services.config.issuer);
    const now = Math.floor(Date.now() / 1000);
    const exp = payload.exp!;
    const longestExp =
      (typeof payload.iat === "number" ? Math.min(payload.iat, now) : now) + MAX_ASSERTION_LIFETIME_SECONDS + ASSERTION_CLOCK_TOLERANCE_SECONDS;
    if (exp > longestExp)
      throw new InvalidClient(`client authentication failed: the client assertion may live at most ${MAX_ASSERTION_LIFETIME_SECONDS} seconds`);
    if (typeof payload.jti !== "string" || payload.jti === "") throw new InvalidClient("client authentication failed: the client assertion has no jti");
    const rememberFor = exp - now + ASSERTION_CLOCK_TOLERANCE_SECONDS;
    const first = await services.redis.set(usedJtiKey(client.id, payload.jti), "1", "EX", Math.max(rememberFor, 1), "NX");
    if (first === null) throw new InvalidClient("client authentication failed: the client assertion was already used (jti replayed)");
  },
};

/** A client-facing reason for a refused assertion; jose's own messages stay in the log. */
function assertionProblem(err: InstanceType<typeof joseErrors.JOSEError>): string {
  if (err instanceof joseErrors.JWTExpired) return "the client assertion has expired";
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === "aud") return "the client assertion's aud must be the issuer identifier, as a single string";
    // Not `sub`: the app is the one the assertion's sub names (claimedClientId), so jose never finds sub different.
    if (err.claim === "iss") return "the client assertion's iss and sub must be the client_id";
    return `the client assertion's ${err.claim} claim is missing or invalid`;
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return "the client assertion's algorithm is not allowed";
  if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWSSignatureVerificationFailed)
    return "no key of the app's JWKS verifies the client assertion";
  return "the client assertion is not valid";
}

/** Public clients (RFC 6749 §2.1) prove nothing; they only say who they are. */
const none: ClientAuthStrategy = {
  presentedIn: (request) =>
    !hasBasicScheme(request.authorization) && !request.form.has("client_secret") && !presentsAssertion(request) && request.form.has("client_id"),
  claimedClientId: (request) => request.form.get("client_id"),
  verify: () => undefined,
};

export const CLIENT_AUTH_STRATEGIES: ReadonlyMap<ClientAuthMethod, ClientAuthStrategy> = new Map<ClientAuthMethod, ClientAuthStrategy>([
  ["client_secret_basic", clientSecretBasic],
  ["client_secret_post", clientSecretPost],
  ["private_key_jwt", privateKeyJwt],
  ["none", none],
]);

/** Client assertions (RFC 7523 §2.2): a request with either parameter uses this method. */
function presentsAssertion(request: ClientAuthRequest): boolean {
  return request.form.has("client_assertion") || request.form.has("client_assertion_type");
}

/**
 * Authenticates the client of a token request. Exactly one method per
 * request (RFC 6749 §2.3: "MUST NOT use more than one authentication
 * method in each request"), and it must be one the client accepts: its
 * registered method, or either secret method for an app registered with
 * defaults (clients.ts acceptedAuthMethods).
 */
export async function authenticateClient(
  services: ClientAuthServices,
  req: Pick<IncomingMessage, "headers">,
  form: FormParameters,
): Promise<AuthenticatedClient> {
  const request: ClientAuthRequest = { authorization: req.headers.authorization, form };
  const presented = [...CLIENT_AUTH_STRATEGIES].filter(([, strategy]) => strategy.presentedIn(request));
  if (presented.length > 1) throw new InvalidRequest("the request uses more than one client authentication method");
  const [entry] = presented;
  if (!entry) throw new InvalidClient("client authentication failed: no client credentials");
  const [method, strategy] = entry;
  const clientId = strategy.claimedClientId(request);
  if (!clientId) throw new InvalidClient("client authentication failed: no client_id");
  // A metadata-document client is fetched here too when its cached copy is stale: an invalid document refuses it (invalid_client).
  const client = await resolveClient(services, clientId);
  if (!client) throw new InvalidClient("client authentication failed: unknown client");
  // Checked before the credentials: a public client must not be let in by
  // sending a secret, nor a confidential one by sending none.
  if (!client.tokenEndpointAuthMethods.includes(method))
    throw new InvalidClient(`client authentication failed: the client is registered for ${client.tokenEndpointAuthMethods.join(" or ")}, not ${method}`);
  await strategy.verify(client, request, services);
  return { client, method };
}

/** A back-channel request's form and its authenticated client. */
export interface AuthenticatedRequest extends AuthenticatedClient {
  form: FormParameters;
}

/**
 * The authenticator of the back-channel endpoints (token, introspection,
 * revocation, device authorization): reads the form (once: body.ts) and
 * authenticates the client by its registered method.
 */
export function clientAuthentication(services: ClientAuthServices): Authenticator<AuthenticatedRequest> {
  return {
    name: "client",
    authenticate: async (req) => {
      const form = await readForm(req);
      return { form, ...(await authenticateClient(services, req, form)) };
    },
  };
}

/**
 * The client a back-channel request claims to be, before it is
 * authenticated (for the per-client rate limit): Basic, then `client_id`,
 * then the assertion's `sub` (RFC 7523 §3). Never trusted for anything else.
 */
export async function claimedClientId(req: IncomingMessage): Promise<string | undefined> {
  const authorization = req.headers.authorization;
  if (hasBasicScheme(authorization)) {
    try {
      return parseBasicCredentials(authorization).clientId;
    } catch {
      return undefined;
    }
  }
  // The endpoint reads the same form afterwards (readForm reads once) and reports its errors itself.
  const form = await readForm(req).catch(() => undefined);
  const clientId = form?.get("client_id");
  if (clientId !== undefined) return clientId;
  const assertion = form?.get("client_assertion");
  if (assertion === undefined) return undefined;
  try {
    const { sub } = decodeJwt(assertion);
    return typeof sub === "string" ? sub : undefined;
  } catch {
    return undefined;
  }
}
