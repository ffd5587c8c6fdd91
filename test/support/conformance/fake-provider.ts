/**
 * One small fake OAuth 2.0 / OpenID Connect provider for connector
 * conformance tests (docs/connectors.md, "Conformance tests"). It is the
 * mechanics every provider shares — an auto-approving authorization
 * endpoint, single-use codes bound to client, redirect URI and PKCE, client
 * authentication, refresh tokens, revocation, an RS256 key for ID tokens,
 * bearer-protected resources and an echo API — while everything a provider
 * does its own way is data in a `FakeProviderProfile`: the paths, the shape
 * of the token response (with or without `expires_in`, `id_token`,
 * `instance_url`…), the ID token's issuer and claims, whether refresh
 * tokens rotate, the identity documents and the error shapes.
 *
 * A provider's fake (test/support/conformance/providers/<name>.ts) is a
 * profile written from the provider's documentation, so a connector file
 * that would fail against the provider fails against its fake.
 *
 * Every request is recorded (method, path, headers, form), so a test can
 * assert on what the broker sent (a User-Agent, a Basic header, a body).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";

/** A user of the fake provider: the documents its endpoints answer about them. */
export interface FakeUser {
  /** The provider's stable id of the user (what a connector's `identity.subject` should find). */
  id: string;
  /** Free-form facts the profile's documents and ID token claims are built from. */
  [fact: string]: unknown;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  /** The form body (token, revocation), or the raw body text otherwise. */
  form?: URLSearchParams;
  body: string;
}

/** What a token response is made from: the grant, the user, and helpers to sign an ID token. */
export interface IssueContext {
  grant: "authorization_code" | "refresh_token" | "client_credentials";
  user: FakeUser;
  scope: string;
  clientId: string;
  /** The nonce of the authorization request, when it had one. */
  nonce?: string;
  /** The fake's origin, `http://127.0.0.1:PORT`. */
  origin: string;
  accessToken: string;
  /** The refresh token this response carries (absent when the profile issues none, or does not rotate on refresh). */
  refreshToken?: string;
  /** On a refresh: the refresh token the client presented (a provider that answers the same one again, as HubSpot does). */
  presentedRefreshToken?: string;
  /** Signs an ID token with the fake's key (header `kid`, RS256); `iat`/`exp` are added when absent. */
  signIdToken(claims: Record<string, unknown>): Promise<string>;
}

/** An error the provider answers, as the provider shapes it. */
export interface ProviderError {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface FakeProviderProfile {
  /** The provider's name, in failure messages. */
  name: string;
  paths: {
    authorize: string;
    token: string;
    /** Where the JWKS is served (providers that issue ID tokens). */
    jwks?: string;
    /** OIDC discovery, answered with `discovery(origin)`. */
    discovery?: string;
  };
  /** The broker's client registered at the provider. */
  client: { id: string; secret: string };
  /** How the provider reads client credentials at its token endpoint. `either` takes both, never both at once. */
  clientAuth: "client_secret_basic" | "client_secret_post" | "either";
  /** Authorization requests without an S256 `code_challenge` are refused. @defaultValue false */
  requirePkce?: boolean;
  /** Refresh tokens are issued only when one of these scopes was asked for (Microsoft's `offline_access`). Absent: always. */
  refreshTokenScopes?: string[];
  /** Whether a code's authorization request earns a refresh token (Reddit's `duration=permanent`). Absent: yes. */
  refreshTokenFor?(authorizeParams: URLSearchParams): boolean;
  /**
   * The client credentials grant (RFC 6749 §4.4): the app's own token, issued for the fake's
   * current user (standing for the app), never with a refresh token. @defaultValue false
   */
  clientCredentialsGrant?: boolean;
  /** Issue refresh tokens at all. @defaultValue true */
  issueRefreshTokens?: boolean;
  /** A refresh answers with a new refresh token and the old one stops working. @defaultValue true */
  refreshRotates?: boolean;
  /** Access tokens expire after this many seconds (the fake enforces it whether or not the response says so). @defaultValue 3600 */
  accessTokenLifetimeSeconds?: number;
  /** The token response's fields besides `access_token` and `refresh_token`, as the provider documents them. */
  tokenResponse(issued: IssueContext): Promise<Record<string, unknown>> | Record<string, unknown>;
  /** How the provider answers a failed token request. @defaultValue RFC 6749 §5.2 JSON, 400 (401 for invalid_client) */
  tokenError?(error: string, description: string): ProviderError;
  /** The discovery document, for `paths.discovery`. */
  discovery?(origin: string): Record<string, unknown>;
  /**
   * Resources that take the access token (`Authorization: Bearer`): identity
   * endpoints, second identity calls, post-connect lookups. Keyed by
   * `METHOD /path` (`{token}` stands for one path segment); the handler gets the token's user and the request.
   */
  resources?: Record<string, (user: FakeUser, request: RecordedRequest, origin: string) => ProviderError | { status?: number; body: unknown }>;
  /**
   * Where resources and the API read the access token (Shopify's `X-Shopify-Access-Token`).
   * @defaultValue the `Authorization: Bearer` header
   */
  accessTokenOf?(request: RecordedRequest): string | undefined;
  /** How a resource refuses a missing, expired or revoked token. @defaultValue 401 `{ error: "invalid_token" }` */
  unauthorized?(): ProviderError;
  /**
   * Path prefixes of the provider's API: any request under one is echoed as
   * JSON (method, path, query, headers, body, user) when its bearer token is valid.
   */
  apiPrefixes?: string[];
  /**
   * A key login that answers a session token (Backblaze B2's `b2_authorize_account`):
   * HTTP Basic of the user's `keyId:applicationKey`; the answer is `response`
   * with the issued token, which then opens the resources and the API like an access token.
   */
  keyLogin?: {
    method: "GET" | "POST";
    path: string;
    response(issued: { user: FakeUser; origin: string; accessToken: string }): Record<string, unknown>;
    /** How a refused key is answered. @defaultValue 401 `{ error: "invalid_key" }` */
    refused?(): ProviderError;
  };
  /** How resources take the token: `Authorization: Bearer <token>`, or the token alone (B2). @defaultValue bearer */
  tokenScheme?: "bearer" | "raw";
  /** Revocation, where the provider has it: method, path, and how it finds the token in the request. */
  revocation?: {
    method: "POST" | "DELETE";
    /** `{token}` stands for one path segment (HubSpot's `/oauth/v1/refresh-tokens/{token}`). */
    path: string;
    /** The token to revoke, read from the request (RFC 7009: the form's `token`). Undefined: a malformed request (400). */
    tokenOf(request: RecordedRequest): string | undefined;
    /** The request must authenticate the client (RFC 7009 §2.1, GitHub's Basic auth). @defaultValue true */
    authenticated?: boolean;
    /** How this endpoint reads client credentials, where it differs from the token endpoint (GitHub: Basic). */
    clientAuth?: FakeProviderProfile["clientAuth"];
    /** The status of a successful revocation. @defaultValue 200 */
    status?: number;
  };
}

export interface FakeProvider {
  /** `http://127.0.0.1:PORT`: what a shipped file's provider origin is rewritten to. */
  origin: string;
  port: number;
  /** The user the next authorization approves. */
  setUser(user: FakeUser): void;
  readonly user: FakeUser;
  readonly requests: RecordedRequest[];
  /** Requests to `METHOD /path` (path without query). */
  requestsTo(method: string, path: string): RecordedRequest[];
  /** Token requests answered with new tokens, by grant type. */
  readonly grants: Record<string, number>;
  /** The next token request fails with `error` (shaped by the profile's `tokenError`). */
  failNextToken(error: string, description?: string): void;
  /** Every access token issued so far stops working (as after its lifetime). */
  expireAccessTokens(): void;
  /** The key with this id is deleted: its logins are refused (keyLogin). */
  revokeKey(keyId: string): void;
  /** Whether a token (access or refresh) was revoked. */
  isRevoked(token: string): boolean;
  issuedAccessTokens(): string[];
  /** A credential the provider accepts for `user` without any grant, and that never expires (an API key). */
  addStaticToken(token: string, user: FakeUser): void;
  issuedRefreshTokens(): string[];
  /** The key ID tokens are signed with, public part. */
  readonly jwk: JWK;
  close(): Promise<void>;
}

interface Code {
  clientId: string;
  redirectUri: string;
  challenge?: string;
  scope: string;
  nonce?: string;
  user: FakeUser;
  used: boolean;
  params: URLSearchParams;
}

interface Token {
  user: FakeUser;
  scope: string;
  expiresAt: number;
  revoked: boolean;
  used: boolean;
}

class ProviderFailure extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }
}

const rfc6749Error = (error: string, description: string): ProviderError => ({
  status: error === "invalid_client" ? 401 : 400,
  body: { error, error_description: description },
});

export async function startFakeProvider(profile: FakeProviderProfile, options: { user: FakeUser; redirectUris: string[] }): Promise<FakeProvider> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const kid = randomBytes(6).toString("hex");
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  const lifetime = profile.accessTokenLifetimeSeconds ?? 3600;
  let user = options.user;
  const codes = new Map<string, Code>();
  const accessTokens = new Map<string, Token>();
  /** Key ids whose key was deleted (keyLogin refuses them). */
  const keysRevoked = new Set<string>();
  const refreshTokens = new Map<string, Token>();
  const requests: RecordedRequest[] = [];
  const grants: Record<string, number> = {};
  const tokenFailures: ProviderFailure[] = [];

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, { status: 500, body: { error: "server_error", error_description: String(err) } });
      else res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", origin);
    const body = await readBody(req);
    const isForm = (req.headers["content-type"] ?? "").includes("application/x-www-form-urlencoded");
    const request: RecordedRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      form: isForm ? new URLSearchParams(body) : undefined,
      body,
    };
    requests.push(request);
    const route = `${request.method} ${url.pathname}`;
    if (profile.keyLogin && route === `${profile.keyLogin.method} ${profile.keyLogin.path}`) return keyLogin(req, res);
    if (route === `GET ${profile.paths.authorize}`) return authorize(url.searchParams, res);
    if (route === `POST ${profile.paths.token}`) return token(request, res);
    if (profile.paths.jwks && route === `GET ${profile.paths.jwks}`) return send(res, { status: 200, body: { keys: [jwk] } });
    if (profile.paths.discovery && profile.discovery && route === `GET ${profile.paths.discovery}`)
      return send(res, { status: 200, body: profile.discovery(origin) });
    if (profile.revocation && routeMatches(`${profile.revocation.method} ${profile.revocation.path}`, route)) return revoke(request, res);
    const resource = profile.resources?.[route] ?? Object.entries(profile.resources ?? {}).find(([key]) => routeMatches(key, route))?.[1];
    if (resource) {
      const owner = bearerUser(request);
      if (!owner) return send(res, profile.unauthorized?.() ?? { status: 401, body: { error: "invalid_token" } });
      const answer = resource(owner, request, origin);
      return send(res, { status: answer.status ?? 200, body: answer.body, headers: "headers" in answer ? answer.headers : undefined });
    }
    if (profile.apiPrefixes?.some((prefix) => url.pathname.startsWith(prefix))) {
      const owner = bearerUser(request);
      if (!owner) return send(res, profile.unauthorized?.() ?? { status: 401, body: { error: "invalid_token" } });
      return send(res, {
        status: 200,
        body: { method: request.method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body, user: owner.id },
      });
    }
    send(res, { status: 404, body: { error: "not_found", path: url.pathname } });
  }

  function authorize(params: URLSearchParams, res: ServerResponse): void {
    const clientId = params.get("client_id");
    const redirectUri = params.get("redirect_uri") ?? "";
    // RFC 6749 §4.1.2.1: a bad client or redirect URI is shown, never redirected to.
    if (clientId !== profile.client.id) return sendPage(res, 400, `${profile.name}: unknown client_id`);
    if (!options.redirectUris.includes(redirectUri)) return sendPage(res, 400, `${profile.name}: redirect_uri ${redirectUri} is not registered`);
    const back = (fields: Record<string, string>) => {
      const target = new URL(redirectUri);
      for (const [name, value] of Object.entries(fields)) target.searchParams.set(name, value);
      const state = params.get("state");
      if (state !== null) target.searchParams.set("state", state);
      res.writeHead(302, { location: target.href });
      res.end();
    };
    const challenge = params.get("code_challenge") ?? undefined;
    if (challenge !== undefined && params.get("code_challenge_method") !== "S256")
      return back({ error: "invalid_request", error_description: "code_challenge_method must be S256" });
    if (challenge === undefined && profile.requirePkce) return back({ error: "invalid_request", error_description: "code_challenge is required" });
    const code = `code-${randomBytes(16).toString("hex")}`;
    codes.set(code, { clientId, redirectUri, challenge, scope: params.get("scope") ?? "", nonce: params.get("nonce") ?? undefined, user, used: false, params });
    back({ code });
  }

  function authenticateClient(request: RecordedRequest, clientAuth = profile.clientAuth): void {
    const form = request.form ?? new URLSearchParams();
    const header = request.headers.authorization;
    const basic = header?.toLowerCase().startsWith("basic ") ? Buffer.from(header.slice(6), "base64").toString("utf8") : undefined;
    if (basic !== undefined && form.has("client_secret")) throw new ProviderFailure("invalid_request", "client authenticated in two ways");
    let presented: [string, string] | undefined;
    if (basic !== undefined && clientAuth !== "client_secret_post") {
      const colon = basic.indexOf(":");
      presented = [decodeURIComponent(basic.slice(0, colon)), decodeURIComponent(basic.slice(colon + 1))];
    } else if (form.has("client_secret") && clientAuth !== "client_secret_basic") {
      presented = [form.get("client_id") ?? "", form.get("client_secret") ?? ""];
    }
    if (!presented || presented[0] !== profile.client.id || presented[1] !== profile.client.secret)
      throw new ProviderFailure("invalid_client", `client authentication failed (${profile.name} takes ${clientAuth})`);
  }

  async function token(request: RecordedRequest, res: ServerResponse): Promise<void> {
    try {
      const failure = tokenFailures.shift();
      if (failure) throw failure;
      authenticateClient(request);
      const form = request.form ?? new URLSearchParams();
      const grant = form.get("grant_type");
      let issued: { user: FakeUser; scope: string; nonce?: string; rotate: boolean; presented?: string };
      if (grant === "authorization_code") {
        const code = redeem(form);
        issued = { ...code, rotate: profile.refreshTokenFor?.(code.params) ?? true };
      } else if (grant === "refresh_token") issued = refresh(form);
      else if (grant === "client_credentials" && profile.clientCredentialsGrant) issued = { user, scope: form.get("scope") ?? "", rotate: false };
      else throw new ProviderFailure("unsupported_grant_type", `grant_type ${grant} is not supported`);
      grants[grant] = (grants[grant] ?? 0) + 1;
      const accessToken = `at-${randomBytes(24).toString("base64url")}`;
      accessTokens.set(accessToken, { user: issued.user, scope: issued.scope, expiresAt: Date.now() + lifetime * 1000, revoked: false, used: false });
      const wantsRefresh =
        (profile.issueRefreshTokens ?? true) &&
        issued.rotate &&
        (!profile.refreshTokenScopes || profile.refreshTokenScopes.some((scope) => issued.scope.split(" ").includes(scope)));
      const refreshToken = wantsRefresh ? `rt-${randomBytes(24).toString("base64url")}` : undefined;
      if (refreshToken) refreshTokens.set(refreshToken, { user: issued.user, scope: issued.scope, expiresAt: Infinity, revoked: false, used: false });
      const context: IssueContext = {
        grant,
        user: issued.user,
        scope: issued.scope,
        clientId: profile.client.id,
        nonce: issued.nonce,
        origin,
        accessToken,
        refreshToken,
        presentedRefreshToken: issued.presented,
        signIdToken: (claims) => signIdToken(claims),
      };
      const fields = await profile.tokenResponse(context);
      send(res, { status: 200, body: { access_token: accessToken, ...(refreshToken ? { refresh_token: refreshToken } : {}), ...fields } });
    } catch (err) {
      if (!(err instanceof ProviderFailure)) throw err;
      send(res, (profile.tokenError ?? rfc6749Error)(err.error, err.description));
    }
  }

  function redeem(form: URLSearchParams): { user: FakeUser; scope: string; nonce?: string; params: URLSearchParams } {
    const code = codes.get(form.get("code") ?? "");
    if (!code || code.used) throw new ProviderFailure("invalid_grant", "the code is invalid or was already used");
    code.used = true;
    if (form.get("redirect_uri") !== code.redirectUri) throw new ProviderFailure("invalid_grant", "redirect_uri does not match the authorization request");
    if (code.challenge !== undefined) {
      const verifier = form.get("code_verifier") ?? "";
      if (createHash("sha256").update(verifier).digest("base64url") !== code.challenge) throw new ProviderFailure("invalid_grant", "code_verifier mismatch");
    }
    return { user: code.user, scope: code.scope, nonce: code.nonce, params: code.params };
  }

  function refresh(form: URLSearchParams): { user: FakeUser; scope: string; rotate: boolean; presented: string } {
    const value = form.get("refresh_token") ?? "";
    const presented = refreshTokens.get(value);
    if (!presented || presented.revoked || presented.used) throw new ProviderFailure("invalid_grant", "the refresh token is invalid, used or revoked");
    const rotate = profile.refreshRotates ?? true;
    if (rotate) presented.used = true;
    return { user: presented.user, scope: presented.scope, rotate, presented: value };
  }

  function revoke(request: RecordedRequest, res: ServerResponse): void {
    const revocation = profile.revocation!;
    if (revocation.authenticated ?? true) {
      try {
        authenticateClient(request, revocation.clientAuth);
      } catch (err) {
        return send(res, rfc6749Error((err as ProviderFailure).error, (err as ProviderFailure).description));
      }
    }
    const presented = revocation.tokenOf(request);
    if (presented === undefined) return send(res, { status: 400, body: { error: "invalid_request" } });
    const found = accessTokens.get(presented) ?? refreshTokens.get(presented);
    if (found) {
      // Revoking either token of a grant ends the grant, as the providers that document it do.
      for (const token of [...accessTokens.values(), ...refreshTokens.values()]) if (token.user.id === found.user.id) token.revoked = true;
    }
    res.writeHead(revocation.status ?? 200);
    res.end();
  }

  function keyLogin(req: IncomingMessage, res: ServerResponse): void {
    const login = profile.keyLogin!;
    const [scheme, encoded] = (req.headers.authorization ?? "").split(" ");
    const [keyId, key] = scheme?.toLowerCase() === "basic" && encoded ? Buffer.from(encoded, "base64").toString("utf8").split(":") : [];
    const keys = user as FakeUser & { keyId?: string; applicationKey?: string };
    if (!keyId || keyId !== keys.keyId || key !== keys.applicationKey || keysRevoked.has(keyId))
      return send(res, login.refused?.() ?? { status: 401, body: { error: "invalid_key" } });
    const accessToken = `fake-session-${randomBytes(12).toString("hex")}`;
    const lifetime = profile.accessTokenLifetimeSeconds ?? 3600;
    accessTokens.set(accessToken, { user, scope: "", expiresAt: Date.now() + lifetime * 1000, revoked: false, used: false });
    grants.key_login = (grants.key_login ?? 0) + 1;
    send(res, { status: 200, body: login.response({ user, origin, accessToken }) });
  }

  function bearerUser(request: RecordedRequest): FakeUser | undefined {
    const presented = profile.accessTokenOf
      ? profile.accessTokenOf(request)
      : profile.tokenScheme === "raw"
        ? /^(\S+)$/.exec(request.headers.authorization ?? "")?.[1]
        : bearerToken(request);
    const found = presented ? accessTokens.get(presented) : undefined;
    if (!found || found.revoked || found.expiresAt <= Date.now()) return undefined;
    return found.user;
  }

  async function signIdToken(claims: Record<string, unknown>): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iat: now, exp: now + 3600, ...claims }).setProtectedHeader({ alg: "RS256", kid, typ: "JWT" }).sign(privateKey);
  }

  return {
    origin,
    port,
    setUser(next) {
      user = next;
    },
    get user() {
      return user;
    },
    requests,
    requestsTo: (method, path) => requests.filter((r) => r.method === method && r.path === path),
    grants,
    failNextToken(error, description = error) {
      tokenFailures.push(new ProviderFailure(error, description));
    },
    expireAccessTokens() {
      for (const token of accessTokens.values()) token.expiresAt = Math.min(token.expiresAt, Date.now() - 1);
    },
    revokeKey(keyId) {
      keysRevoked.add(keyId);
    },
    isRevoked: (token) => (accessTokens.get(token) ?? refreshTokens.get(token))?.revoked === true,
    issuedAccessTokens: () => [...accessTokens.keys()],
    addStaticToken(token, owner) {
      accessTokens.set(token, { user: owner, scope: "", expiresAt: Infinity, revoked: false, used: false });
    },
    issuedRefreshTokens: () => [...refreshTokens.keys()],
    jwk,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** Whether `METHOD /path` matches a route key, where `{token}` in the key stands for one path segment (HubSpot's token paths). */
function routeMatches(key: string, route: string): boolean {
  if (!key.includes("{token}")) return key === route;
  const pattern = key
    .split("{token}")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join("[^/]+");
  return new RegExp(`^${pattern}$`).test(route);
}

/** The token of a path made from a route key with `{token}` (percent-decoded), or undefined. */
export function tokenInPath(template: string, path: string): string | undefined {
  const [before, after = ""] = template.split("{token}");
  if (!path.startsWith(before!) || !path.endsWith(after) || path.length <= before!.length + after.length) return undefined;
  return decodeURIComponent(path.slice(before!.length, path.length - after.length));
}

/** The token of an `Authorization: Bearer` header. */
export function bearerToken(request: RecordedRequest): string | undefined {
  return /^bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
}

/** A fresh id in the provider's format: Entra's object and tenant ids are GUIDs. */
export const guid = (): string => randomUUID();

function send(res: ServerResponse, answer: ProviderError): void {
  res.writeHead(answer.status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...answer.headers });
  res.end(JSON.stringify(answer.body));
}

function sendPage(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8" });
  res.end(`<!doctype html><title>Error</title><p>${message}</p>`);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
