/**
 * A GitHub-like OAuth 2.0 server (no OpenID Connect) for integration tests,
 * on plain http://127.0.0.1: the end user is learned from `GET /user`, not
 * from an ID token, and the token endpoint answers JSON only when asked
 * (`Accept: application/json`), form-encoded otherwise, as GitHub does.
 *
 * It is strict where a real server is (RFC 6749, RFC 7636): exact redirect
 * URIs, single-use codes bound to client, redirect URI and PKCE challenge,
 * single-use rotating refresh tokens; and it can be told to fail, so tests
 * can see what the broker does when an upstream misbehaves.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { AddressInfo } from "node:net";

export interface OAuth2UpstreamUser {
  /** GitHub's numeric user id: the stable subject. */
  id: number;
  login: string;
  email: string;
  /** Sent as `email_verified` by `GET /user` when set (GitHub itself says it only in /user/emails). */
  email_verified?: boolean;
  name: string;
}

export interface OAuth2UpstreamClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
}

export interface OAuth2UpstreamOptions {
  clients: OAuth2UpstreamClient[];
  /** @defaultValue a free port */
  port?: number;
  /** Refuse authorization requests without an S256 `code_challenge`. @defaultValue true */
  requirePkce?: boolean;
  /** Access token lifetime in seconds; `null` issues non-expiring tokens (no `expires_in`), like classic GitHub apps. @defaultValue 3600 */
  accessTokenTtl?: number | null;
  /**
   * Issue access tokens that are JWTs whose `exp` is this many seconds away
   * (signed with a key nobody knows: only the upstream reads them). Absent:
   * opaque tokens.
   */
  jwtAccessTokenExpSeconds?: number;
  /** @defaultValue true */
  issueRefreshTokens?: boolean;
  /** Refresh token lifetime in seconds. @defaultValue 180 days (GitHub's) */
  refreshTokenTtl?: number;
  /** A reused refresh token also revokes every token of its family (RFC 9700 §4.14.2). @defaultValue false */
  revokeFamilyOnReuse?: boolean;
  /**
   * A used refresh token presented again within this many seconds of its
   * first use still gets a new token pair, as Okta's grace period and Auth0's
   * reuse interval allow, for a client that crashed before it stored the
   * answer. @defaultValue 0 (single use, strictly)
   */
  refreshTokenReuseGraceSeconds?: number;
  /** @defaultValue octocat (id 4242) */
  user?: OAuth2UpstreamUser;
  /**
   * How HTTP Basic client credentials are read: `decoded` as RFC 6749
   * §2.3.1 says (form-urlencoded), or `as-written`, compared without
   * decoding, as many deployed servers and libraries do. @defaultValue "decoded"
   */
  basicCredentials?: "decoded" | "as-written";
}

export interface OAuth2UpstreamStats {
  authorize: number;
  /** Token endpoint requests (answered or failed) by `grant_type`. */
  tokenByGrant: Record<string, number>;
  /** `GET /user` requests. */
  user: number;
  /** Requests to the echo API under `/api/`. */
  api: number;
  /** Refresh grants answered with new tokens, by upstream user id. */
  refreshByUser: Record<string, number>;
  /** Used refresh tokens presented again and refused (a double refresh). */
  refreshReplays: number;
  /** Used refresh tokens presented again within the reuse grace, and honoured. */
  refreshReusesInGrace: number;
}

export interface OAuth2Upstream {
  /** Base URL, `http://127.0.0.1:PORT`. */
  url: string;
  port: number;
  authorizationUrl: string;
  tokenUrl: string;
  userUrl: string;
  /** RFC 7009 revocation endpoint. */
  revocationUrl: string;
  /** Base URL of an API that echoes each authenticated request as JSON (for proxy tests). */
  apiUrl: string;
  clients: OAuth2UpstreamClient[];
  readonly currentUser: OAuth2UpstreamUser;
  setUser(user: OAuth2UpstreamUser): void;
  /** The next authorization request ends with `error=access_denied`. */
  denyNext(): void;
  /** The next token request gets `status` and this JSON body (queued: call twice to fail twice). */
  failNextToken(status: number, body?: object): void;
  /** The next `GET /user` gets `status`. */
  failNextUser(status: number, body?: object): void;
  /** Hold every token response this long (to make concurrent refreshes overlap). @defaultValue 0 */
  setTokenDelay(ms: number): void;
  /** Make every access token issued so far expired (the next API call with one gets 401). */
  expireAccessTokens(): void;
  /** Revoke every token issued so far, as a user removing the app's access would (refresh -> invalid_grant). */
  revokeAll(): void;
  readonly stats: OAuth2UpstreamStats;
  /** Query parameters of the last authorization request, as received. */
  lastAuthorizeParams(): URLSearchParams | undefined;
  /** Scopes of the last authorization request (GitHub takes spaces or commas between them). */
  lastAuthorizeScopes(): string[] | undefined;
  issuedAccessTokens(): string[];
  issuedRefreshTokens(): string[];
  close(): Promise<void>;
}

export const OCTOCAT: OAuth2UpstreamUser = { id: 4242, login: "octocat", email: "octocat@example.test", name: "The Octocat" };

const PATHS = {
  authorize: "/login/oauth/authorize",
  token: "/login/oauth/access_token",
  revoke: "/login/oauth/revoke",
  user: "/user",
  api: "/api/",
} as const;

/** What an authorization code stands for until it is redeemed. */
interface IssuedCode {
  clientId: string;
  redirectUri: string | undefined;
  codeChallenge: string | undefined;
  scope: string;
  user: OAuth2UpstreamUser;
  expiresAt: number;
  used: boolean;
  /** The family of tokens this code produced, revoked if the code is replayed. */
  family: string;
}

interface IssuedToken {
  clientId: string;
  scope: string;
  user: OAuth2UpstreamUser;
  /** Epoch ms; Infinity for a non-expiring token. */
  expiresAt: number;
  used: boolean;
  /** Epoch ms of the first use (refresh tokens). */
  usedAt?: number;
  revoked: boolean;
  family: string;
}

class TokenError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }
}

export async function startOAuth2Upstream(options: OAuth2UpstreamOptions): Promise<OAuth2Upstream> {
  const requirePkce = options.requirePkce ?? true;
  const accessTokenTtl = options.accessTokenTtl === undefined ? 3600 : options.accessTokenTtl;
  const issueRefreshTokens = options.issueRefreshTokens ?? true;
  const refreshTokenTtl = options.refreshTokenTtl ?? 180 * 24 * 3600;

  let currentUser = options.user ?? OCTOCAT;
  let denyNextAuthorization = false;
  let tokenDelayMs = 0;
  let lastAuthorizeParams: URLSearchParams | undefined;
  const tokenFailures: { status: number; body: object }[] = [];
  const userFailures: { status: number; body: object }[] = [];
  const codes = new Map<string, IssuedCode>();
  const accessTokens = new Map<string, IssuedToken>();
  const refreshTokens = new Map<string, IssuedToken>();
  const stats: OAuth2UpstreamStats = { authorize: 0, tokenByGrant: {}, user: 0, api: 0, refreshByUser: {}, refreshReplays: 0, refreshReusesInGrace: 0 };
  const reuseGraceMs = (options.refreshTokenReuseGraceSeconds ?? 0) * 1000;

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (err instanceof TokenError) {
        sendTokenError(req, res, err);
        return;
      }
      if (!res.headersSent) sendJson(res, 500, { error: "server_error" });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestUrl = new URL(req.url ?? "/", url);
    const path = requestUrl.pathname;
    if (path === PATHS.authorize && req.method === "GET") return authorize(requestUrl, res);
    if (path === PATHS.token && req.method === "POST") return token(req, res);
    if (path === PATHS.revoke && req.method === "POST") return revoke(req, res);
    if (path === PATHS.user && req.method === "GET") return user(req, res);
    if (path.startsWith(PATHS.api)) return echo(req, requestUrl, res);
    sendJson(res, 404, { message: "Not Found" });
  }

  function authorize(requestUrl: URL, res: ServerResponse): void {
    stats.authorize += 1;
    const params = requestUrl.searchParams;
    lastAuthorizeParams = new URLSearchParams(params);
    const client = options.clients.find((c) => c.client_id === params.get("client_id"));
    // RFC 6749 §4.1.2.1: a bad client or redirect URI must not redirect.
    if (!client) return sendPage(res, 400, "The client_id is unknown.");
    const requestedRedirect = params.get("redirect_uri") ?? undefined;
    const redirectUri = requestedRedirect ?? (client.redirect_uris.length === 1 ? client.redirect_uris[0] : undefined);
    if (!redirectUri || !client.redirect_uris.includes(redirectUri)) {
      return sendPage(res, 400, "The redirect_uri does not match a registered one.");
    }
    const state = params.get("state");
    const back = (result: Record<string, string>) => {
      const target = new URL(redirectUri);
      for (const [key, value] of Object.entries(result)) target.searchParams.set(key, value);
      if (state !== null) target.searchParams.set("state", state);
      res.writeHead(302, { location: target.href, "cache-control": "no-store" });
      res.end();
    };

    const responseType = params.get("response_type");
    if (responseType !== null && responseType !== "code") {
      return back({ error: "unsupported_response_type", error_description: "only response_type=code is supported" });
    }
    const codeChallenge = params.get("code_challenge") ?? undefined;
    const method = params.get("code_challenge_method") ?? (codeChallenge ? "plain" : undefined);
    if (codeChallenge === undefined && requirePkce) {
      return back({ error: "invalid_request", error_description: "code_challenge is required" });
    }
    if (codeChallenge !== undefined && (method !== "S256" || !/^[A-Za-z0-9_-]{43}$/.test(codeChallenge))) {
      return back({ error: "invalid_request", error_description: "code_challenge_method must be S256" });
    }
    if (denyNextAuthorization) {
      denyNextAuthorization = false;
      return back({ error: "access_denied", error_description: "The user has denied your application access." });
    }

    const code = randomToken("ghc_");
    codes.set(code, {
      clientId: client.client_id,
      redirectUri: requestedRedirect,
      codeChallenge,
      scope: params.get("scope") ?? "",
      user: currentUser,
      expiresAt: Date.now() + 600_000,
      used: false,
      family: randomToken(""),
    });
    back({ code });
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await readForm(req);
    const grantType = form.get("grant_type") ?? "(none)";
    stats.tokenByGrant[grantType] = (stats.tokenByGrant[grantType] ?? 0) + 1;
    if (tokenDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, tokenDelayMs));
    const failure = tokenFailures.shift();
    if (failure) return sendJson(res, failure.status, failure.body);

    const client = authenticateClient(req, form);
    let tokens: IssuedTokens;
    if (grantType === "authorization_code") tokens = redeemCode(client, form);
    else if (grantType === "refresh_token") tokens = refresh(client, form);
    else throw new TokenError(400, "unsupported_grant_type", `grant_type ${grantType} is not supported`);
    sendTokenResponse(req, res, tokens);
  }

  /** RFC 6749 §2.3.1: HTTP Basic (form-encoded id and secret) or both in the body, never both ways. */
  function authenticateClient(req: IncomingMessage, form: URLSearchParams): OAuth2UpstreamClient {
    const header = req.headers.authorization;
    let clientId: string | null;
    let secret: string | null;
    if (header?.toLowerCase().startsWith("basic ")) {
      if (form.has("client_secret")) throw new TokenError(400, "invalid_request", "client authenticated in two ways");
      const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      const read = options.basicCredentials === "as-written" ? (value: string) => value : (value: string) => decodeURIComponent(value.replace(/\+/g, " "));
      clientId = colon < 0 ? null : read(decoded.slice(0, colon));
      secret = colon < 0 ? null : read(decoded.slice(colon + 1));
      if (form.has("client_id") && form.get("client_id") !== clientId) {
        throw new TokenError(400, "invalid_request", "client_id in the body differs from the authenticated one");
      }
    } else {
      clientId = form.get("client_id");
      secret = form.get("client_secret");
    }
    const client = options.clients.find((c) => c.client_id === clientId);
    if (!client || secret === null || !sameSecret(secret, client.client_secret)) {
      throw new TokenError(401, "invalid_client", "client authentication failed");
    }
    return client;
  }

  function redeemCode(client: OAuth2UpstreamClient, form: URLSearchParams): IssuedTokens {
    const code = codes.get(form.get("code") ?? "");
    if (!code || code.expiresAt <= Date.now()) throw new TokenError(400, "invalid_grant", "the code is invalid or expired");
    if (code.used) {
      // RFC 6749 §4.1.2: a replayed code revokes what it issued.
      revokeFamily(code.family);
      throw new TokenError(400, "invalid_grant", "the code was already used");
    }
    code.used = true;
    if (code.clientId !== client.client_id) throw new TokenError(400, "invalid_grant", "the code was issued to another client");
    if (code.redirectUri !== undefined && form.get("redirect_uri") !== code.redirectUri) {
      throw new TokenError(400, "invalid_grant", "redirect_uri does not match the authorization request");
    }
    const verifier = form.get("code_verifier");
    if (code.codeChallenge !== undefined) {
      if (verifier === null || !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) {
        throw new TokenError(400, "invalid_grant", "code_verifier is missing or malformed");
      }
      if (createHash("sha256").update(verifier).digest("base64url") !== code.codeChallenge) {
        throw new TokenError(400, "invalid_grant", "code_verifier does not match the code_challenge");
      }
    } else if (verifier !== null) {
      // RFC 9700 §4.8.2: a verifier without a challenge is a downgrade attempt.
      throw new TokenError(400, "invalid_grant", "code_verifier sent for a code issued without a challenge");
    }
    return issueTokens(client.client_id, code.user, code.scope, code.family);
  }

  function refresh(client: OAuth2UpstreamClient, form: URLSearchParams): IssuedTokens {
    const presented = refreshTokens.get(form.get("refresh_token") ?? "");
    if (!presented || presented.revoked || presented.expiresAt <= Date.now() || presented.clientId !== client.client_id) {
      throw new TokenError(400, "invalid_grant", "the refresh token is invalid, expired or revoked");
    }
    if (presented.used && presented.usedAt !== undefined && Date.now() - presented.usedAt <= reuseGraceMs) {
      stats.refreshReusesInGrace += 1;
    } else if (presented.used) {
      stats.refreshReplays += 1;
      if (options.revokeFamilyOnReuse) revokeFamily(presented.family);
      throw new TokenError(400, "invalid_grant", "the refresh token was already used");
    }
    presented.used = true;
    presented.usedAt ??= Date.now();
    stats.refreshByUser[presented.user.id] = (stats.refreshByUser[presented.user.id] ?? 0) + 1;
    return issueTokens(client.client_id, presented.user, presented.scope, presented.family);
  }

  interface IssuedTokens {
    access_token: string;
    token_type: "bearer";
    scope: string;
    expires_in?: number;
    refresh_token?: string;
    refresh_token_expires_in?: number;
  }

  function issueTokens(clientId: string, tokenUser: OAuth2UpstreamUser, scope: string, family: string): IssuedTokens {
    const now = Date.now();
    const accessToken = options.jwtAccessTokenExpSeconds === undefined ? randomToken("gho_") : jwtToken(tokenUser, now, options.jwtAccessTokenExpSeconds);
    accessTokens.set(accessToken, {
      clientId,
      scope,
      user: tokenUser,
      expiresAt: accessTokenTtl === null ? Infinity : now + accessTokenTtl * 1000,
      used: false,
      revoked: false,
      family,
    });
    const response: IssuedTokens = { access_token: accessToken, token_type: "bearer", scope };
    if (accessTokenTtl !== null) response.expires_in = accessTokenTtl;
    if (issueRefreshTokens) {
      const refreshToken = randomToken("ghr_");
      refreshTokens.set(refreshToken, {
        clientId,
        scope,
        user: tokenUser,
        expiresAt: now + refreshTokenTtl * 1000,
        used: false,
        revoked: false,
        family,
      });
      response.refresh_token = refreshToken;
      response.refresh_token_expires_in = refreshTokenTtl;
    }
    return response;
  }

  function revokeFamily(family: string): void {
    for (const issued of [...accessTokens.values(), ...refreshTokens.values()]) {
      if (issued.family === family) issued.revoked = true;
    }
  }

  /** RFC 7009: always 200 for an authenticated client, whether or not the token was known. */
  async function revoke(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await readForm(req);
    const client = authenticateClient(req, form);
    const presented = form.get("token") ?? "";
    const issued = accessTokens.get(presented) ?? refreshTokens.get(presented);
    if (issued && issued.clientId === client.client_id) revokeFamily(issued.family);
    res.writeHead(200, { "cache-control": "no-store" });
    res.end();
  }

  function bearerUser(req: IncomingMessage): OAuth2UpstreamUser | undefined {
    // GitHub accepts both `Bearer x` and its historical `token x`.
    const match = /^(?:bearer|token)\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    const issued = match ? accessTokens.get(match[1] as string) : undefined;
    if (!issued || issued.revoked || issued.expiresAt <= Date.now()) return undefined;
    return issued.user;
  }

  function user(req: IncomingMessage, res: ServerResponse): void {
    stats.user += 1;
    const failure = userFailures.shift();
    if (failure) return sendJson(res, failure.status, failure.body);
    const tokenUser = bearerUser(req);
    if (!tokenUser) return sendBadCredentials(res);
    sendJson(res, 200, {
      id: tokenUser.id,
      login: tokenUser.login,
      email: tokenUser.email,
      name: tokenUser.name,
      ...(tokenUser.email_verified === undefined ? {} : { email_verified: tokenUser.email_verified }),
    });
  }

  /** An API that tells a proxy test exactly what arrived: method, path, query, headers, body. */
  async function echo(req: IncomingMessage, requestUrl: URL, res: ServerResponse): Promise<void> {
    stats.api += 1;
    const body = await readBody(req);
    const tokenUser = bearerUser(req);
    if (!tokenUser) return sendBadCredentials(res);
    const status = Number(requestUrl.searchParams.get("status") ?? 200);
    sendJson(res, Number.isInteger(status) && status >= 200 && status < 600 ? status : 200, {
      method: req.method,
      path: requestUrl.pathname,
      query: Object.fromEntries(requestUrl.searchParams),
      headers: req.headers,
      body: body.toString("utf8"),
      user: { id: tokenUser.id, login: tokenUser.login },
    });
  }

  return {
    url,
    port,
    authorizationUrl: `${url}${PATHS.authorize}`,
    tokenUrl: `${url}${PATHS.token}`,
    userUrl: `${url}${PATHS.user}`,
    revocationUrl: `${url}${PATHS.revoke}`,
    apiUrl: `${url}/api`,
    clients: options.clients,
    get currentUser() {
      return currentUser;
    },
    setUser(next) {
      currentUser = next;
    },
    denyNext() {
      denyNextAuthorization = true;
    },
    failNextToken(status, body) {
      tokenFailures.push({ status, body: body ?? { error: status >= 500 ? "server_error" : "invalid_request" } });
    },
    failNextUser(status, body) {
      userFailures.push({ status, body: body ?? { message: status >= 500 ? "Server Error" : "Bad credentials" } });
    },
    setTokenDelay(ms) {
      tokenDelayMs = ms;
    },
    expireAccessTokens() {
      for (const issued of accessTokens.values()) issued.expiresAt = Math.min(issued.expiresAt, Date.now() - 1);
    },
    revokeAll() {
      for (const issued of [...accessTokens.values(), ...refreshTokens.values()]) issued.revoked = true;
    },
    stats,
    lastAuthorizeParams: () => (lastAuthorizeParams ? new URLSearchParams(lastAuthorizeParams) : undefined),
    lastAuthorizeScopes: () => lastAuthorizeParams && (lastAuthorizeParams.get("scope") ?? "").split(/[\s,]+/).filter(Boolean),
    issuedAccessTokens: () => [...accessTokens.keys()],
    issuedRefreshTokens: () => [...refreshTokens.keys()],
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** GitHub answers JSON only when asked; otherwise `application/x-www-form-urlencoded`. */
function wantsJson(req: IncomingMessage): boolean {
  return (req.headers.accept ?? "").includes("application/json");
}

function sendTokenResponse(req: IncomingMessage, res: ServerResponse, tokens: object): void {
  if (wantsJson(req)) return sendJson(res, 200, tokens);
  const form = new URLSearchParams(Object.entries(tokens).map(([k, v]): [string, string] => [k, String(v)]));
  res.writeHead(200, { "content-type": "application/x-www-form-urlencoded; charset=utf-8", "cache-control": "no-store" });
  res.end(form.toString());
}

function sendTokenError(req: IncomingMessage, res: ServerResponse, err: TokenError): void {
  const headers: Record<string, string> = { "cache-control": "no-store" };
  if (err.status === 401) headers["www-authenticate"] = 'Basic realm="token"';
  const body = { error: err.error, error_description: err.description };
  if (wantsJson(req)) {
    res.writeHead(err.status, { ...headers, "content-type": "application/json" });
    res.end(JSON.stringify(body));
  } else {
    res.writeHead(err.status, { ...headers, "content-type": "application/x-www-form-urlencoded" });
    res.end(new URLSearchParams(body).toString());
  }
}

function sendBadCredentials(res: ServerResponse): void {
  res.writeHead(401, { "content-type": "application/json", "www-authenticate": 'Bearer error="invalid_token"' });
  res.end(JSON.stringify({ message: "Bad credentials" }));
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

function sendPage(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8" });
  res.end(`<!doctype html><html><head><title>Error</title></head><body><h1>Error</h1><p>${message}</p></body></html>`);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Form bodies, and JSON ones (GitHub takes both). */
async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const body = (await readBody(req)).toString("utf8");
  if ((req.headers["content-type"] ?? "").includes("application/json")) {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(body) as Record<string, unknown>;
    } catch {
      throw new TokenError(400, "invalid_request", "the body is not valid JSON");
    }
    return new URLSearchParams(Object.entries(parsed).map(([k, v]): [string, string] => [k, String(v)]));
  }
  return new URLSearchParams(body);
}

/** A JWT access token as some upstreams (Microsoft, Auth0) issue them; its signature is random bytes, as only its issuer verifies it. */
function jwtToken(user: OAuth2UpstreamUser, now: number, expSeconds: number): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const iat = Math.floor(now / 1000);
  const claims = { sub: String(user.id), iat, exp: iat + expSeconds, jti: randomBytes(8).toString("hex") };
  return `${part({ alg: "RS256", typ: "at+jwt" })}.${part(claims)}.${randomBytes(256).toString("base64url")}`;
}

function randomToken(prefix: string): string {
  return `${prefix}${randomBytes(32).toString("base64url")}`;
}

function sameSecret(presented: string, expected: string): boolean {
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}
