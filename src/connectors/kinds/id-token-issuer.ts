/**
 * ID tokens whose issuer is not the server's issuer identifier
 * (`auth.idTokenIssuer`). Microsoft Entra's multi-tenant `common` endpoint
 * is one server for every tenant, and each ID token names its own tenant:
 * `iss` is `https://login.microsoftonline.com/<tid>/v2.0`. openid-client
 * compares `iss` with one fixed issuer (its own Entra handling survives only
 * inside the Configuration its `discovery()` builds, and is lost when the
 * metadata is copied into a new one, as every kind here does), so the
 * library would refuse every such token.
 *
 * Where the file says what the issuer is, the ID token is taken out of the
 * token response before openid-client reads it (`holdIdToken`) and checked
 * here instead (`checkHeldIdToken`), with the checks OIDC Core §3.1.3.7
 * makes of an ID token from the token endpoint: `iss`, `aud`, `azp`, `exp`,
 * and the nonce. As in openid-client, the signature is not checked: the
 * token came over TLS straight from the token endpoint (§3.1.3.7 item 6).
 * `none` drops the ID token unread: an `oauth2` connector learns who
 * connected from `identity.url`.
 */
import { decodeJwt, type JWTPayload } from "jose";
import { UpstreamError } from "../../errors.js";
import { NO_ID_TOKEN, TENANT_PLACEHOLDER } from "../schema-fields.js";

/** What the token endpoint's ID token was, once taken out of the response. */
export interface HeldIdToken {
  idToken?: string;
}

/** Allowed clock difference with the upstream, as openid-client's default. */
const CLOCK_TOLERANCE_SECONDS = 30;

/** What `{tid}` may be filled with: a tenant id (a GUID), never something that changes the URL's shape. */
const TENANT_ID = /^[A-Za-z0-9-]{1,64}$/;

/**
 * Takes the `id_token` out of a JSON token response into `held` (the token
 * endpoint's answer to a code or refresh grant); any other response passes.
 */
export async function holdIdToken(response: Response, held: HeldIdToken): Promise<Response> {
  if (!response.ok || !(response.headers.get("content-type") ?? "").includes("json")) return response;
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return new Response(text, { status: response.status, headers: new Headers([...response.headers]) });
  }
  if (body === null || typeof body !== "object" || !("id_token" in body)) {
    return new Response(text, { status: response.status, headers: new Headers([...response.headers]) });
  }
  const { id_token: idToken, ...rest } = body as Record<string, unknown>;
  held.idToken = typeof idToken === "string" ? idToken : undefined;
  const headers = new Headers([...response.headers]);
  headers.delete("content-length");
  return new Response(JSON.stringify(rest), { status: response.status, headers });
}

/** The issuer an ID token must carry under the template: `{tid}` filled from the token's own `tid`. */
export function expectedIdTokenIssuer(template: string, claims: JWTPayload): string | undefined {
  if (!template.includes(TENANT_PLACEHOLDER)) return template;
  const tenant = claims.tid;
  if (typeof tenant !== "string" || !TENANT_ID.test(tenant)) return undefined;
  return template.replaceAll(TENANT_PLACEHOLDER, tenant);
}

/**
 * Checks a held ID token and returns its claims; `none` (or no token where
 * none is required) returns undefined. Throws an UpstreamError naming what
 * is wrong (never the token itself).
 */
export function checkHeldIdToken(
  connectorName: string,
  rule: string,
  held: HeldIdToken,
  expected: { clientId: string; nonce?: string; required: boolean },
): JWTPayload | undefined {
  if (rule === NO_ID_TOKEN) return undefined;
  if (held.idToken === undefined) {
    if (expected.required) throw new UpstreamError(`${connectorName} sent no ID token`);
    return undefined;
  }
  let claims: JWTPayload;
  try {
    claims = decodeJwt(held.idToken);
  } catch {
    throw new UpstreamError(`${connectorName}'s ID token is not a JWT`);
  }
  const issuer = expectedIdTokenIssuer(rule, claims);
  if (issuer === undefined) throw new UpstreamError(`${connectorName}'s ID token has no tenant id (tid) to check its issuer with`);
  if (claims.iss !== issuer) throw new UpstreamError(`${connectorName}'s ID token was issued by "${String(claims.iss)}", not "${issuer}"`);
  const audiences = typeof claims.aud === "string" ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
  if (!audiences.includes(expected.clientId)) throw new UpstreamError(`${connectorName}'s ID token is not for this broker (aud)`);
  // OIDC Core §3.1.3.7 item 4-5: several audiences need an azp, which must be this client.
  if (audiences.length > 1 && claims.azp !== expected.clientId) throw new UpstreamError(`${connectorName}'s ID token is for another party (azp)`);
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp !== "number" || claims.exp + CLOCK_TOLERANCE_SECONDS <= now) throw new UpstreamError(`${connectorName}'s ID token has expired`);
  if (typeof claims.iat !== "number") throw new UpstreamError(`${connectorName}'s ID token has no iat`);
  // OIDC Core §3.1.2.1: the nonce ties the ID token to this authorization request (replay).
  if (expected.nonce !== undefined && claims.nonce !== expected.nonce)
    throw new UpstreamError(`${connectorName}'s ID token does not carry this request's nonce`);
  return claims;
}
