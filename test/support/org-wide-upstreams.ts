/**
 * The token endpoints of the three big suites' organisation-wide
 * server-to-server grants, on one plain-http server at 127.0.0.1, each
 * checking the assertion as its documentation says the real one does
 * (header, claims, lifetime, signature), and answering as the real one
 * answers. Tests point the shipped connector files at it by rewriting their
 * hosts (`rewriteShippedConnector`).
 *
 * - `/entra/<tenant>/oauth2/v2.0/token`: Microsoft Entra app-only tokens
 *   (client credentials with a certificate): `client_assertion_type`
 *   jwt-bearer, header `alg` RS256/PS256 and `x5t#S256` naming an uploaded
 *   certificate, `aud` the token endpoint, `iss` = `sub` = the client id,
 *   a `jti`, at most 10 minutes between `nbf` and `exp`, a `scope` ending
 *   in `/.default`, no client secret.
 * - `/google/token`: Google's service-account grant: RS256 signed by a
 *   registered key (`kid` = its private_key_id), `iss` the service
 *   account's email, `aud` the token endpoint, `scope` a claim, `exp` at
 *   most an hour after `iat`; a `sub` (domain-wide delegation) only for
 *   users of the delegated domain and scopes the admin allowed.
 * - `/box/oauth2/token`: Box's JWT grant: `kid` = a registered public key
 *   id, `iss` the client id, `sub` an enterprise id with
 *   `box_sub_type: enterprise`, `aud` the token endpoint, a `jti` of 16–128
 *   characters, `exp` at most 60 s away; client id and secret in the body.
 *   `/box/2.0/users/me` says who a token is (the enterprise's service account).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import type { AddressInfo } from "node:net";
import { decodeProtectedHeader, importJWK, importX509, jwtVerify, type JWK, type JWTPayload } from "jose";

export const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

export interface VerifiedAssertion {
  suite: "entra" | "google" | "box";
  header: Record<string, unknown>;
  claims: JWTPayload;
  form: Record<string, string>;
}

export interface OrgWideUpstreams {
  url: string;
  /** Every assertion the upstreams accepted, in order. */
  accepted: VerifiedAssertion[];
  /** Every refusal: suite, status and error body. */
  refused: { suite: string; status: number; body: { error: string; error_description?: string } }[];
  /** Microsoft Entra: an app registration of a tenant, with its uploaded certificate (PEM). */
  registerEntraApp(tenant: string, clientId: string, certificatePem: string): void;
  /** Google: a service account's public key (its private_key_id is the JWK's kid), and the domain-wide delegation its admin granted. */
  registerGoogleServiceAccount(email: string, publicJwk: JWK, delegation?: { domain: string; scopes: string[] }): void;
  /** Box: a JWT app (client id and secret), one public key by its id, and the enterprises that authorized it. */
  registerBoxApp(app: { clientId: string; clientSecret: string; publicKeyId: string; publicJwk: JWK; enterprises: string[] }): void;
  close(): Promise<void>;
}

type Refusal = { status: number; error: string; description: string };
const refuse = (status: number, error: string, description: string): Refusal => ({ status, error, description });

async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString("utf8")));
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

/** An access token as the suites issue them: opaque to the broker. */
function accessToken(prefix: string): string {
  return `${prefix}${randomBytes(24).toString("base64url")}`;
}

export async function startOrgWideUpstreams(): Promise<OrgWideUpstreams> {
  const entraApps = new Map<string, { tenant: string; thumbprints: Map<string, string> }>();
  const googleAccounts = new Map<string, { keys: Map<string, JWK>; delegation?: { domain: string; scopes: string[] } }>();
  const boxApps = new Map<string, { clientSecret: string; keys: Map<string, JWK>; enterprises: string[] }>();
  const boxTokens = new Map<string, string>();
  const usedJtis = new Set<string>();
  const accepted: VerifiedAssertion[] = [];
  const refused: OrgWideUpstreams["refused"] = [];
  let url = "";
  const now = () => Math.floor(Date.now() / 1000);

  async function entra(tenant: string, form: Record<string, string>): Promise<Refusal | object> {
    const tokenEndpoint = `${url}/entra/${tenant}/oauth2/v2.0/token`;
    if (form.grant_type !== "client_credentials") return refuse(400, "unsupported_grant_type", "AADSTS70003: app-only tokens use client_credentials");
    if (form.client_secret) return refuse(401, "invalid_client", "AADSTS7000215: this app authenticates with a certificate");
    if (form.client_assertion_type !== CLIENT_ASSERTION_TYPE || !form.client_assertion)
      return refuse(401, "invalid_client", "AADSTS700024: client_assertion_type jwt-bearer with a client_assertion is required");
    if (!form.scope?.endsWith("/.default")) return refuse(400, "invalid_scope", "AADSTS1002012: the scope of an app-only token must end in /.default");
    const header = decodeProtectedHeader(form.client_assertion) as Record<string, unknown>;
    if (header.alg !== "RS256" && header.alg !== "PS256") return refuse(401, "invalid_client", `AADSTS5002738: alg ${String(header.alg)} is not supported`);
    const thumbprint = header["x5t#S256"];
    if (typeof thumbprint !== "string") return refuse(401, "invalid_client", "AADSTS700027: the assertion names no certificate (x5t#S256)");
    const unverified = JSON.parse(Buffer.from(form.client_assertion.split(".")[1]!, "base64url").toString("utf8")) as JWTPayload;
    const app = entraApps.get(String(unverified.iss));
    if (!app || app.tenant !== tenant)
      return refuse(400, "unauthorized_client", `AADSTS700016: application ${String(unverified.iss)} was not found in ${tenant}`);
    const certificate = app.thumbprints.get(thumbprint);
    if (!certificate) return refuse(401, "invalid_client", "AADSTS700027: the certificate with this thumbprint is not registered for the application");
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(form.client_assertion, await importX509(certificate, String(header.alg)), {
        audience: tokenEndpoint,
        issuer: String(unverified.iss),
        subject: String(unverified.iss),
        requiredClaims: ["jti", "exp", "nbf"],
        clockTolerance: 300,
      }));
    } catch (err) {
      return refuse(401, "invalid_client", `AADSTS700027: assertion refused (${(err as { code?: string }).code ?? "invalid"})`);
    }
    if (form.client_id && form.client_id !== claims.iss) return refuse(401, "invalid_client", "AADSTS700021: client_id is not the assertion's iss");
    if (claims.exp! - claims.nbf! > 600) return refuse(401, "invalid_client", "AADSTS700024: the assertion is valid for more than 10 minutes");
    if (usedJtis.has(String(claims.jti))) return refuse(401, "invalid_client", "AADSTS700025: the assertion was already used");
    usedJtis.add(String(claims.jti));
    accepted.push({ suite: "entra", header, claims, form });
    return { token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599, access_token: accessToken("eyJ0eXAi-entra-") };
  }

  async function google(form: Record<string, string>): Promise<Refusal | object> {
    const tokenEndpoint = `${url}/google/token`;
    if (form.grant_type !== JWT_BEARER || !form.assertion) return refuse(400, "invalid_grant", "Invalid grant_type or missing assertion");
    const header = decodeProtectedHeader(form.assertion) as Record<string, unknown>;
    const unverified = JSON.parse(Buffer.from(form.assertion.split(".")[1]!, "base64url").toString("utf8")) as JWTPayload;
    const account = googleAccounts.get(String(unverified.iss));
    if (!account) return refuse(400, "invalid_grant", "Invalid JWT Signature.");
    const key = account.keys.get(String(header.kid));
    if (header.alg !== "RS256" || !key) return refuse(400, "invalid_grant", "Invalid JWT Signature.");
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(form.assertion, await importJWK(key, "RS256"), {
        audience: tokenEndpoint,
        issuer: String(unverified.iss),
        requiredClaims: ["iat", "exp"],
        clockTolerance: 300,
      }));
    } catch (err) {
      return refuse(400, "invalid_grant", `Invalid JWT: ${(err as { code?: string }).code ?? "invalid"}`);
    }
    if (claims.iat! > now() + 300)
      return refuse(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.");
    if (claims.exp! - claims.iat! > 3600)
      return refuse(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.");
    const scopes = typeof claims.scope === "string" ? claims.scope.split(" ").filter(Boolean) : [];
    if (scopes.length === 0) return refuse(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.");
    if (claims.sub !== undefined) {
      // Domain-wide delegation: only users of the delegated domain, only the scopes the admin allowed.
      const delegation = account.delegation;
      const user = String(claims.sub);
      if (!delegation || !user.endsWith(`@${delegation.domain}`) || scopes.some((scope) => !delegation.scopes.includes(scope)))
        return refuse(
          401,
          "unauthorized_client",
          "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
        );
    }
    accepted.push({ suite: "google", header, claims, form });
    return { access_token: accessToken("ya29."), expires_in: 3599, token_type: "Bearer" };
  }

  async function box(form: Record<string, string>): Promise<Refusal | object> {
    const tokenEndpoint = `${url}/box/oauth2/token`;
    if (form.grant_type !== JWT_BEARER || !form.assertion) return refuse(400, "invalid_request", "Invalid grant_type parameter or parameter missing");
    const app = boxApps.get(form.client_id ?? "");
    if (!app || form.client_secret !== app.clientSecret) return refuse(400, "invalid_client", "The client credentials are invalid");
    const header = decodeProtectedHeader(form.assertion) as Record<string, unknown>;
    const key = app.keys.get(String(header.kid));
    if (!key) return refuse(400, "invalid_grant", "OpenSSL unable to verify data: no public key with this kid");
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(form.assertion, await importJWK(key, String(header.alg)), {
        algorithms: ["RS256", "RS384", "RS512"],
        audience: tokenEndpoint,
        issuer: form.client_id,
        requiredClaims: ["sub", "jti", "exp"],
      }));
    } catch (err) {
      return refuse(400, "invalid_grant", `Please check the 'sub' claim / signature (${(err as { code?: string }).code ?? "invalid"})`);
    }
    if (claims.exp! > now() + 60) return refuse(400, "invalid_grant", "Please check the 'exp' claim: it may be at most 60 seconds in the future");
    const jti = String(claims.jti);
    if (jti.length < 16 || jti.length > 128) return refuse(400, "invalid_grant", "Please check the 'jti' claim: 16 to 128 characters");
    if (usedJtis.has(jti)) return refuse(400, "invalid_grant", "Please check the 'jti' claim: it was already used");
    if (claims.box_sub_type !== "enterprise") return refuse(400, "invalid_grant", "Please check the 'box_sub_type' claim");
    if (!app.enterprises.includes(String(claims.sub)))
      return refuse(400, "invalid_grant", "Please check the 'sub' claim: the enterprise has not authorized this app");
    usedJtis.add(jti);
    accepted.push({ suite: "box", header, claims, form });
    const token = accessToken("box-");
    boxTokens.set(token, String(claims.sub));
    return { access_token: token, expires_in: 4169, restricted_to: [], token_type: "bearer" };
  }

  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      if (req.method === "GET" && path === "/box/2.0/users/me") {
        const enterprise = boxTokens.get((req.headers.authorization ?? "").replace(/^Bearer /, ""));
        if (!enterprise) return send(res, 401, { type: "error", status: 401, code: "unauthorized" });
        return send(res, 200, { type: "user", id: `svc-${enterprise}`, login: `AutomationUser_${enterprise}@boxdevedition.com`, name: "Service account" });
      }
      if (req.method !== "POST") return send(res, 404, { error: "not_found" });
      const form = await readForm(req);
      const entraPath = /^\/entra\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path);
      const suite = entraPath ? "entra" : path === "/google/token" ? "google" : path === "/box/oauth2/token" ? "box" : undefined;
      if (!suite) return send(res, 404, { error: "not_found" });
      const answer = suite === "entra" ? await entra(entraPath![1]!, form) : suite === "google" ? await google(form) : await box(form);
      if ("status" in answer && "error" in answer) {
        const failure = answer as Refusal;
        const body = { error: failure.error, error_description: failure.description };
        refused.push({ suite, status: failure.status, body });
        return send(res, failure.status, body);
      }
      return send(res, 200, answer);
    })().catch((err: Error) => send(res, 500, { error: "server_error", error_description: err.message }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    accepted,
    refused,
    registerEntraApp(tenant, clientId, certificatePem) {
      const thumbprint = createHash("sha256").update(new X509Certificate(certificatePem).raw).digest("base64url");
      const app = entraApps.get(clientId) ?? { tenant, thumbprints: new Map<string, string>() };
      app.thumbprints.set(thumbprint, certificatePem);
      entraApps.set(clientId, app);
    },
    registerGoogleServiceAccount(email, publicJwk, delegation) {
      googleAccounts.set(email, { keys: new Map([[String(publicJwk.kid), publicJwk]]), delegation });
    },
    registerBoxApp(app) {
      boxApps.set(app.clientId, { clientSecret: app.clientSecret, keys: new Map([[app.publicKeyId, app.publicJwk]]), enterprises: app.enterprises });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Where each suite's hosts are on the fake: a shipped connector file's URLs, pointed at `upstreams`. */
export function rewriteShippedConnector(text: string, upstreams: Pick<OrgWideUpstreams, "url">): string {
  return text
    .replaceAll("https://login.microsoftonline.com", `${upstreams.url}/entra`)
    .replaceAll("https://graph.microsoft.com/v1.0", `${upstreams.url}/graph/v1.0`)
    .replaceAll("https://oauth2.googleapis.com", `${upstreams.url}/google`)
    .replaceAll("baseUrl: https://www.googleapis.com", `baseUrl: ${upstreams.url}/google-api`)
    .replaceAll("https://api.box.com", `${upstreams.url}/box`);
}
