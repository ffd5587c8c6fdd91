/**
 * One small upstream for the connector kinds beyond the redirect flows,
 * on plain http at a chosen loopback address (127.0.0.2, 127.0.0.3… are
 * all this machine), strict where a real server is:
 *
 * - `POST /oauth/token`:
 *   - `urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1, §3):
 *     the assertion is verified with jose against the public JWKs
 *     registered with `registerJwk` (found by `kid`), and its `iss`, `aud`,
 *     `exp` (at most `maxAssertionLifetime` after `iat`), `jti` (single
 *     use), `sub` and required extra claims are checked;
 *   - `client_credentials` (RFC 6749 §4.4) and `password` (§4.3), with
 *     client authentication (Basic or in the body);
 *   - `authorization_code` with PKCE S256 and `refresh_token` (rotating),
 *     behind an auto-approving `GET /oauth/authorize`;
 * - `GET /me`: who a credential belongs to — a bearer token it issued, or
 *   the static credentials it was told are valid: HTTP Basic, a bearer API
 *   key, an `X-Api-Key` header or an `api_key` query parameter;
 * - `GET /api/echo`: the request's authorization, for proxy-style checks.
 *
 * Every request is recorded with the local address it arrived at, so a
 * test can tell which of several loopback addresses a connection went to.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createHash, randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { decodeProtectedHeader, importJWK, jwtVerify, type JWK, type JWTPayload } from "jose";

export const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";

export interface KindsUser {
  id: string;
  email: string;
  name: string;
}

export interface KindsUpstreamOptions {
  /** The loopback address to listen on. @defaultValue 127.0.0.1 */
  host?: string;
  /** @defaultValue a free port */
  port?: number;
  /** The broker's client at this upstream (client_credentials, password, authorization code, jwt-bearer body auth). */
  client?: { id: string; secret: string; redirectUris?: string[] };
  /** Access token lifetime in seconds. @defaultValue 3600 */
  accessTokenTtl?: number;
  /** Send this `iss` with every authorization response (RFC 9207), as servers that implement it do. @defaultValue none sent */
  authorizationResponseIssuer?: string;
  /**
   * Serve under this path (`/forge`), as a server installed under a path does (GitLab's relative URL
   * root): every route is below it, and a request outside it is 404 `outside_prefix` (still recorded). @defaultValue none
   */
  pathPrefix?: string;
}

export interface JwtBearerPolicy {
  /** The expected `iss` (the broker's client id here). */
  issuer: string;
  /** The expected `aud`. @defaultValue the token URL */
  audience?: string;
  /** Claims the assertion must carry with these values (Box's `box_sub_type`). */
  requiredClaims?: Record<string, unknown>;
  /** Longest `exp - iat` accepted. @defaultValue 60 */
  maxLifetimeSeconds?: number;
  /** The token request must also authenticate the client in its body (Box). @defaultValue false */
  requireClientSecretPost?: boolean;
  /** Subjects this upstream knows; others are refused with invalid_grant. Absent: any. */
  subjects?: string[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** The address the connection arrived at (which loopback address the client chose). */
  localAddress: string;
  host: string | undefined;
  authorization: string | undefined;
  /** Form body fields (values of `password`, `client_secret` and `assertion` included: tests assert on them). */
  form?: Record<string, string>;
}

interface IssuedToken {
  subject: string;
  grant: string;
  scope?: string;
  expiresAt: number;
}

export interface KindsUpstream {
  url: string;
  host: string;
  port: number;
  /** `host:port`, as a per-server connector's hostname. */
  hostname: string;
  tokenUrl: string;
  authorizationUrl: string;
  meUrl: string;
  apiUrl: string;
  requests: RecordedRequest[];
  /** Token requests by grant type. */
  grants: Record<string, number>;
  /** Verified assertions: header and claims, in order. */
  assertions: { header: Record<string, unknown>; claims: JWTPayload }[];
  /** Every access token issued. */
  issuedAccessTokens(): string[];
  registerJwk(publicJwk: JWK): void;
  setJwtBearerPolicy(policy: JwtBearerPolicy): void;
  /** Users of the password grant and the authorization code flow. */
  addUser(username: string, password: string, user: KindsUser): void;
  /** Signs in as this user at the next `GET /oauth/authorize`. */
  setAuthorizeUser(username: string): void;
  /** Credentials `GET /me` accepts as they are (basic, api key). */
  acceptBasic(username: string, password: string, user: KindsUser): void;
  acceptApiKey(key: string, user: KindsUser): void;
  /** The next token request gets this status and body. */
  failNextToken(status: number, body: object): void;
  /** Every access token issued so far stops working. */
  expireAccessTokens(): void;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
  res.end(JSON.stringify(body));
}

async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString("utf8")));
}

function basicPair(header: string | undefined): [string, string] | undefined {
  if (!header?.startsWith("Basic ")) return undefined;
  const decoded = Buffer.from(header.slice(6), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon === -1) return undefined;
  // RFC 6749 §2.3.1: client id and secret are form-urlencoded inside Basic.
  return [decodeURIComponent(decoded.slice(0, colon)), decodeURIComponent(decoded.slice(colon + 1))];
}

export async function startKindsUpstream(options: KindsUpstreamOptions = {}): Promise<KindsUpstream> {
  const host = options.host ?? "127.0.0.1";
  const ttl = options.accessTokenTtl ?? 3600;
  const client = options.client;
  const jwks: JWK[] = [];
  let policy: JwtBearerPolicy | undefined;
  const seenJti = new Set<string>();
  const users = new Map<string, { password: string; user: KindsUser }>();
  const basicCredentials = new Map<string, KindsUser>();
  const apiKeys = new Map<string, KindsUser>();
  const tokens = new Map<string, IssuedToken>();
  const refreshTokens = new Map<string, IssuedToken>();
  const codes = new Map<string, { subject: string; clientId: string; redirectUri: string; challenge: string; scope?: string }>();
  const requests: RecordedRequest[] = [];
  const grants: Record<string, number> = {};
  const assertions: KindsUpstream["assertions"] = [];
  const failures: { status: number; body: object }[] = [];
  let authorizeUser: string | undefined;
  let url = "";

  function issue(subject: string, grant: string, scope: string | undefined, withRefresh: boolean): Record<string, unknown> {
    const accessToken = `at_${randomBytes(24).toString("base64url")}`;
    const record = { subject, grant, scope, expiresAt: Date.now() + ttl * 1000 };
    tokens.set(accessToken, record);
    const body: Record<string, unknown> = { access_token: accessToken, token_type: "Bearer", expires_in: ttl };
    if (scope) body.scope = scope;
    if (withRefresh) {
      const refreshToken = `rt_${randomBytes(24).toString("base64url")}`;
      refreshTokens.set(refreshToken, record);
      body.refresh_token = refreshToken;
    }
    return body;
  }

  function clientAuthenticated(req: IncomingMessage, form: Record<string, string>): boolean {
    if (!client) return false;
    const pair = basicPair(req.headers.authorization) ?? (form.client_id !== undefined ? [form.client_id, form.client_secret ?? ""] : undefined);
    return pair !== undefined && pair[0] === client.id && pair[1] === client.secret;
  }

  async function jwtBearerGrant(req: IncomingMessage, res: ServerResponse, form: Record<string, string>): Promise<void> {
    if (!policy) return send(res, 400, { error: "unsupported_grant_type" });
    if (policy.requireClientSecretPost && !(form.client_id === client?.id && form.client_secret === client?.secret))
      return send(res, 401, { error: "invalid_client" });
    const assertion = form.assertion;
    if (!assertion) return send(res, 400, { error: "invalid_request", error_description: "assertion is missing" });
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(assertion) as Record<string, unknown>;
    } catch {
      return send(res, 400, { error: "invalid_grant", error_description: "not a JWT" });
    }
    const jwk = jwks.find((k) => k.kid === header.kid);
    if (!jwk) return send(res, 400, { error: "invalid_grant", error_description: "unknown kid" });
    let claims: JWTPayload;
    try {
      const key = await importJWK(jwk, jwk.alg);
      ({ payload: claims } = await jwtVerify(assertion, key, {
        issuer: policy.issuer,
        audience: policy.audience ?? `${url}/oauth/token`,
        requiredClaims: ["exp", "iat", "jti"],
        algorithms: ["RS256", "ES256"],
      }));
    } catch (err) {
      return send(res, 400, { error: "invalid_grant", error_description: `assertion refused: ${(err as { code?: string }).code ?? "invalid"}` });
    }
    // RFC 7523 §3: a short-lived, single-use assertion.
    if (claims.exp! - claims.iat! > (policy.maxLifetimeSeconds ?? 60))
      return send(res, 400, { error: "invalid_grant", error_description: "assertion lives too long" });
    if (seenJti.has(claims.jti!)) return send(res, 400, { error: "invalid_grant", error_description: "jti replayed" });
    seenJti.add(claims.jti!);
    for (const [name, value] of Object.entries(policy.requiredClaims ?? {})) {
      if (claims[name] !== value) return send(res, 400, { error: "invalid_grant", error_description: `claim ${name} is wrong` });
    }
    if (policy.subjects && (claims.sub === undefined || !policy.subjects.includes(claims.sub)))
      return send(res, 400, { error: "invalid_grant", error_description: "unknown subject" });
    assertions.push({ header, claims });
    const scope = typeof claims.scope === "string" ? claims.scope : form.scope;
    send(res, 200, issue(claims.sub ?? claims.iss!, JWT_BEARER, scope, false));
  }

  async function token(req: IncomingMessage, res: ServerResponse, form: Record<string, string>): Promise<void> {
    const grantType = form.grant_type ?? "";
    grants[grantType] = (grants[grantType] ?? 0) + 1;
    const failure = failures.shift();
    if (failure) return send(res, failure.status, failure.body);
    if (grantType === JWT_BEARER) return jwtBearerGrant(req, res, form);
    if (!clientAuthenticated(req, form)) return send(res, 401, { error: "invalid_client" }, { "www-authenticate": 'Basic realm="token"' });
    switch (grantType) {
      case "client_credentials":
        return send(res, 200, issue(`client:${client!.id}`, grantType, form.scope, false));
      case "password": {
        const entry = users.get(form.username ?? "");
        if (!entry || entry.password !== form.password) return send(res, 400, { error: "invalid_grant", error_description: "wrong username or password" });
        return send(res, 200, issue(entry.user.id, grantType, form.scope, true));
      }
      case "authorization_code": {
        const code = codes.get(form.code ?? "");
        codes.delete(form.code ?? "");
        const verifierHash = createHash("sha256")
          .update(form.code_verifier ?? "")
          .digest("base64url");
        if (!code || code.clientId !== client!.id || code.redirectUri !== form.redirect_uri || code.challenge !== verifierHash)
          return send(res, 400, { error: "invalid_grant" });
        return send(res, 200, issue(code.subject, grantType, code.scope, true));
      }
      case "refresh_token": {
        const previous = refreshTokens.get(form.refresh_token ?? "");
        refreshTokens.delete(form.refresh_token ?? "");
        if (!previous) return send(res, 400, { error: "invalid_grant" });
        return send(res, 200, issue(previous.subject, grantType, previous.scope, true));
      }
      default:
        return send(res, 400, { error: "unsupported_grant_type" });
    }
  }

  function authorize(res: ServerResponse, query: URLSearchParams): void {
    const redirectUri = query.get("redirect_uri") ?? "";
    if (!client || query.get("client_id") !== client.id || !(client.redirectUris ?? []).includes(redirectUri))
      return send(res, 400, { error: "invalid_request", error_description: "unknown client or redirect_uri" });
    if (query.get("code_challenge_method") !== "S256" || !query.get("code_challenge"))
      return send(res, 400, { error: "invalid_request", error_description: "PKCE S256 required" });
    const username = authorizeUser ?? [...users.keys()][0];
    const entry = username === undefined ? undefined : users.get(username);
    if (!entry) return send(res, 400, { error: "access_denied" });
    const code = `c_${randomBytes(16).toString("base64url")}`;
    codes.set(code, {
      subject: entry.user.id,
      clientId: client.id,
      redirectUri,
      challenge: query.get("code_challenge")!,
      scope: query.get("scope") ?? undefined,
    });
    const back = new URL(redirectUri);
    back.searchParams.set("code", code);
    back.searchParams.set("state", query.get("state") ?? "");
    if (options.authorizationResponseIssuer !== undefined) back.searchParams.set("iss", options.authorizationResponseIssuer);
    res.writeHead(302, { location: back.href });
    res.end();
  }

  /** Who a request's credentials belong to, in any of the styles connectors use. */
  function whoIs(req: IncomingMessage, query: URLSearchParams): KindsUser | undefined {
    const authorization = req.headers.authorization;
    if (authorization?.startsWith("Bearer ")) {
      const value = authorization.slice(7);
      const issued = tokens.get(value);
      if (issued && issued.expiresAt > Date.now()) {
        const known = [...users.values()].find((entry) => entry.user.id === issued.subject)?.user;
        return known ?? { id: issued.subject, email: `${issued.subject}@kinds.test`, name: `Subject ${issued.subject}` };
      }
      return apiKeys.get(value);
    }
    const pair = basicPair(authorization);
    if (pair) return basicCredentials.get(`${pair[0]}\n${pair[1]}`);
    const headerKey = req.headers["x-api-key"];
    if (typeof headerKey === "string") return apiKeys.get(headerKey);
    const queryKey = query.get("api_key");
    return queryKey === null ? undefined : apiKeys.get(queryKey);
  }

  const prefix = options.pathPrefix ?? "";
  const server = createServer(async (req, res) => {
    const target = new URL(req.url ?? "/", `http://${host}`);
    const record: RecordedRequest = {
      method: req.method ?? "GET",
      path: target.pathname,
      localAddress: req.socket.localAddress ?? "",
      host: req.headers.host,
      authorization: req.headers.authorization,
    };
    requests.push(record);
    try {
      if (prefix) {
        if (!target.pathname.startsWith(`${prefix}/`)) return send(res, 404, { error: "outside_prefix" });
        target.pathname = target.pathname.slice(prefix.length);
      }
      if (req.method === "POST" && target.pathname === "/oauth/token") {
        record.form = await readForm(req);
        return await token(req, res, record.form);
      }
      if (req.method === "GET" && target.pathname === "/oauth/authorize") return authorize(res, target.searchParams);
      if (req.method === "GET" && (target.pathname === "/me" || target.pathname === "/api/echo")) {
        const user = whoIs(req, target.searchParams);
        if (!user) return send(res, 401, { error: "invalid_token" }, { "www-authenticate": 'Bearer error="invalid_token"' });
        return send(
          res,
          200,
          target.pathname === "/me" ? { id: user.id, email: user.email, name: user.name } : { user: user.id, authorization: req.headers.authorization ?? null },
        );
      }
      send(res, 404, { error: "not_found" });
    } catch (err) {
      send(res, 500, { error: "server_error", error_description: (err as Error).message });
    }
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  url = `http://${host}:${port}${prefix}`;

  return {
    url,
    host,
    port,
    hostname: `${host}:${port}${prefix}`,
    tokenUrl: `${url}/oauth/token`,
    authorizationUrl: `${url}/oauth/authorize`,
    meUrl: `${url}/me`,
    apiUrl: `${url}/api`,
    requests,
    grants,
    assertions,
    issuedAccessTokens: () => [...tokens.keys()],
    registerJwk: (jwk) => void jwks.push(jwk),
    setJwtBearerPolicy: (next) => void (policy = next),
    addUser: (username, password, user) => void users.set(username, { password, user }),
    setAuthorizeUser: (username) => void (authorizeUser = username),
    acceptBasic: (username, password, user) => void basicCredentials.set(`${username}\n${password}`, user),
    acceptApiKey: (key, user) => void apiKeys.set(key, user),
    failNextToken: (status, body) => void failures.push({ status, body }),
    expireAccessTokens: () => {
      for (const record of tokens.values()) record.expiresAt = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
