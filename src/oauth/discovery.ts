/**
 * Discovery: `/.well-known/openid-configuration` (OIDC Discovery 1.0) and
 * `/.well-known/oauth-authorization-server` (RFC 8414), the same document.
 * It lists exactly what the broker supports now: grant types come from the
 * grant map, client authentication methods from the strategy map, signing
 * algorithms from the published keys. An endpoint appears only once it is
 * implemented: add its line to `ENDPOINTS`.
 */
import {
  AUTHORIZATION_PATH,
  DEVICE_AUTHORIZATION_PATH,
  INTROSPECTION_PATH,
  JWKS_PATH,
  REGISTRATION_PATH,
  REVOCATION_PATH,
  TOKEN_PATH,
  USERINFO_PATH,
} from "../paths.js";
import { sendDocument } from "../http/json.js";
import type { Exchange } from "../http/route.js";
import type { Services } from "../services.js";
import { CLIENT_ASSERTION_ALGORITHMS, CLIENT_AUTH_STRATEGIES } from "./client-auth.js";
import { buildGrants } from "./grants/index.js";
import { RESPONSE_TYPES } from "../apps/clients.js";
import { IDENTITY_CLAIM_NAMES } from "./identity-claims.js";
import { RESPONSE_MODES } from "./response-modes.js";
import { BROKER_SCOPES } from "./scopes.js";

/** The broker's endpoints, as discovery metadata name → path. One line per implemented endpoint. */
const ENDPOINTS: ReadonlyArray<readonly [metadata: string, path: string]> = [
  ["authorization_endpoint", AUTHORIZATION_PATH],
  ["token_endpoint", TOKEN_PATH],
  ["jwks_uri", JWKS_PATH],
  ["userinfo_endpoint", USERINFO_PATH],
  ["introspection_endpoint", INTROSPECTION_PATH],
  ["revocation_endpoint", REVOCATION_PATH],
  ["device_authorization_endpoint", DEVICE_AUTHORIZATION_PATH],
];

/** Claims an ID token may carry (tokens.ts issueIdToken): its own, then the account's (identity-claims.ts), which userinfo carries too. */
const ID_TOKEN_CLAIMS = ["iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "c_hash", ...IDENTITY_CLAIM_NAMES];

export async function discoveryDocument(services: Services): Promise<Record<string, unknown>> {
  const issuer = services.config.issuer;
  const algorithms = [...new Set((await services.signingKeys.jwks()).keys.map((k) => k.alg).filter((alg): alg is string => typeof alg === "string"))];
  const authMethods = [...CLIENT_AUTH_STRATEGIES.keys()];
  return {
    issuer,
    ...Object.fromEntries(ENDPOINTS.map(([name, path]) => [name, `${issuer}${path}`])),
    // RFC 8414 §2: listed only when a client may use it (BROKER_DYNAMIC_REGISTRATION not off).
    ...(services.config.dynamicRegistration.mode === "off" ? {} : { registration_endpoint: `${issuer}${REGISTRATION_PATH}` }),
    // Implicit and hybrid types are listed because the broker supports them;
    // each app may use only those it was registered with (RFC 9700 §2.1.2).
    response_types_supported: [...RESPONSE_TYPES],
    response_modes_supported: [...RESPONSE_MODES],
    grant_types_supported: [...buildGrants().keys()],
    code_challenge_methods_supported: ["S256"],
    token_endpoint_auth_methods_supported: authMethods,
    token_endpoint_auth_signing_alg_values_supported: CLIENT_ASSERTION_ALGORITHMS,
    // RFC 7662 §2.1: only clients that prove who they are may introspect.
    introspection_endpoint_auth_methods_supported: authMethods.filter((m) => m !== "none"),
    introspection_endpoint_auth_signing_alg_values_supported: CLIENT_ASSERTION_ALGORITHMS,
    revocation_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_signing_alg_values_supported: CLIENT_ASSERTION_ALGORITHMS,
    scopes_supported: [...BROKER_SCOPES],
    claims_supported: ID_TOKEN_CLAIMS,
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: algorithms,
    // RFC 9207: authorization responses carry `iss`.
    authorization_response_iss_parameter_supported: true,
    // draft-ietf-oauth-client-id-metadata-document: an https client_id names the client's metadata document (apps/metadata-documents.ts).
    client_id_metadata_document_supported: true,
  };
}

/** `GET /.well-known/openid-configuration` and `/.well-known/oauth-authorization-server` (direct routes: every app and resource server reads them). */
export function discoveryEndpoint(services: Services): (exchange: Exchange) => Promise<void> {
  return async ({ req, res }) => {
    res.setHeader("Cache-Control", "public, max-age=300");
    sendDocument(req, res, JSON.stringify(await discoveryDocument(services)), "application/json; charset=utf-8");
  };
}
