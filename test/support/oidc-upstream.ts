/**
 * A real OpenID Connect provider for integration tests: node-oidc-provider
 * (the certified implementation) in-process on plain http://127.0.0.1.
 *
 * It does what a real IdP does on the wire — discovery, authorization code
 * with PKCE (S256, required), ID tokens carrying `email` and `name`,
 * userinfo, refresh tokens rotated on every use (reuse of a consumed one
 * revokes the grant), revocation, `iss` in authorization responses (RFC 9207)
 * — while its interactions are our own routes: by default the end user
 * `currentUser` signs in and consents automatically, so a test whose browser
 * just follows redirects completes the flow; `interactive: true` shows a
 * login form and a consent page instead (for Chromium tests). The demo's
 * "Acme Cloud" (demo/acme-cloud.ts) is this provider with a brand, checked
 * passwords and an API of its own.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import Provider, {
  interactionPolicy,
  type Adapter,
  type AdapterPayload,
  type ClientMetadata,
  type Configuration,
  type KoaContextWithOIDC,
} from "oidc-provider";

export interface UpstreamUser {
  /** Stable subject identifier at the upstream. */
  sub: string;
  email: string;
  /** The `email_verified` claim; `null` leaves it out of the ID token and userinfo. @defaultValue true */
  emailVerified?: boolean | null;
  name: string;
}

export interface OidcUpstreamClient {
  client_id: string;
  /** Omit for a public client (then `token_endpoint_auth_method` defaults to `none`). */
  client_secret?: string;
  redirect_uris: string[];
  /** @defaultValue `client_secret_basic` with a secret, `none` without */
  token_endpoint_auth_method?: "client_secret_basic" | "client_secret_post" | "none";
  /** @defaultValue `["authorization_code", "refresh_token"]` */
  grant_types?: string[];
  /** Shown on the consent page instead of the client id. */
  client_name?: string;
}

/** Serves `/api/` instead of the echo; it authenticates requests itself, with `findAccessToken` for bearer tokens. */
export type UpstreamApiHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  context: { url: URL; findAccessToken(token: string): Promise<{ accountId: string; scope: string } | undefined> },
) => void | Promise<void>;

export interface OidcUpstreamOptions {
  clients: OidcUpstreamClient[];
  /** Listen on this port (when the issuer must be known in advance). @defaultValue a free port */
  port?: number;
  /** Listen on this address (the issuer stays http://127.0.0.1:PORT; 0.0.0.0 in a container). @defaultValue 127.0.0.1 */
  host?: string;
  /** Access token lifetime in seconds. @defaultValue 3600 */
  accessTokenTtl?: number;
  /** Refresh token lifetime in seconds. @defaultValue 14 days */
  refreshTokenTtl?: number;
  /** Issue a new refresh token on every refresh (the old one becomes unusable). @defaultValue true */
  rotateRefreshTokens?: boolean;
  /** Scopes beyond `openid offline_access profile email`. */
  scopes?: string[];
  /** Show a login form and a consent page instead of approving automatically. @defaultValue false */
  interactive?: boolean;
  /** Accounts that can sign in on the login form, by username. @defaultValue `{ alice: currentUser }` */
  users?: Record<string, UpstreamUser>;
  /** The user signed in automatically. @defaultValue alice */
  user?: UpstreamUser;
  /** Passwords by username: when given, the login form checks them (otherwise any password signs in). */
  passwords?: Record<string, string>;
  /** The service's name on the login and consent pages. @defaultValue "the upstream" */
  brand?: string;
  /** Serves `/api/` instead of the echo API. */
  api?: UpstreamApiHandler;
}

export interface UpstreamStats {
  /** Requests that reached the authorization endpoint. */
  authorize: number;
  /** Token endpoint requests (successful or not) by `grant_type`. */
  tokenByGrant: Record<string, number>;
  /** Userinfo requests. */
  userinfo: number;
  /** Revocation requests. */
  revocation: number;
  /** Requests to the echo API under `/api/`. */
  api: number;
}

export interface OidcUpstream {
  /** `http://127.0.0.1:PORT`: the issuer, also the base URL of every endpoint. */
  issuer: string;
  /** Same as `issuer`. */
  url: string;
  port: number;
  /** The user the automatic interactions sign in. */
  readonly currentUser: UpstreamUser;
  /** Sign in `user` from now on (an existing browser session of another user is asked to log in again). */
  setUser(user: UpstreamUser): void;
  /** The next interaction ends with `error=access_denied` at the client's redirect URI. */
  denyNext(): void;
  /** The next token request gets this status and JSON body instead of being processed (queued: call twice to fail twice). */
  failNextToken(status: number, body?: object): void;
  /** Make every access token issued so far expired (userinfo and the echo API answer 401). */
  expireAccessTokens(): void;
  /** Forget every grant and token, as a user removing the app's access would (refresh -> invalid_grant). */
  revokeAll(): void;
  /** Base URL of an API that echoes each request made with a valid access token (for proxy tests). */
  apiUrl: string;
  readonly stats: UpstreamStats;
  /** Parameters of the last authorization request, as received (query or form body). */
  lastAuthorizeParams(): URLSearchParams | undefined;
  /** Scopes of the last authorization request. */
  lastAuthorizeScopes(): string[] | undefined;
  /** Every access token the token endpoint handed out, so tests can prove none is stored in clear. */
  issuedAccessTokens(): string[];
  /** Every refresh token the token endpoint handed out. */
  issuedRefreshTokens(): string[];
  /** The oidc-provider instance, for what this wrapper does not expose. */
  provider: Provider;
  close(): Promise<void>;
}

export const ALICE: UpstreamUser = { sub: "alice", email: "alice@example.test", name: "Alice" };

const INTERACTION_PREFIX = "/interaction/";
const API_PREFIX = "/api/";

export async function startOidcUpstream(options: OidcUpstreamOptions): Promise<OidcUpstream> {
  let currentUser: UpstreamUser = options.user ?? ALICE;
  const users: Record<string, UpstreamUser> = options.users ?? { [currentUser.sub]: currentUser };
  // Every account ever signed in, by sub: tokens issued to alice must still
  // resolve to alice after a test switched to bob.
  const accounts = new Map<string, UpstreamUser>([[currentUser.sub, currentUser]]);
  for (const user of Object.values(users)) accounts.set(user.sub, user);

  const brand = options.brand ?? "the upstream";
  let denyNextInteraction = false;
  const tokenFailures: { status: number; body: object }[] = [];
  const stats: UpstreamStats = { authorize: 0, tokenByGrant: {}, userinfo: 0, revocation: 0, api: 0 };

  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  const store = createMemoryStore();
  const provider = new Provider(issuer, buildConfiguration(options, { findUser: (sub) => accounts.get(sub), currentSub: () => currentUser.sub }, store));
  const issued = { accessTokens: [] as string[], refreshTokens: [] as string[], lastAuthorizeParams: undefined as URLSearchParams | undefined };
  observeEndpoints(provider, stats, issued);
  const handleProtocolRequest = provider.callback();

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", issuer).pathname;
    if (path.startsWith(INTERACTION_PREFIX)) {
      handleInteraction(req, res).catch((err: unknown) => sendError(res, err));
      return;
    }
    if (tokenFailures.length > 0 && req.method === "POST" && path === "/token") {
      const failure = tokenFailures.shift() as { status: number; body: object };
      void readForm(req).then((form) => {
        const grantType = form.get("grant_type") ?? "(none)";
        stats.tokenByGrant[grantType] = (stats.tokenByGrant[grantType] ?? 0) + 1;
        sendJson(res, failure.status, failure.body);
      });
      return;
    }
    if (path.startsWith(API_PREFIX)) {
      echo(req, res).catch((err: unknown) => sendError(res, err));
      return;
    }
    void handleProtocolRequest(req, res);
  });

  async function handleInteraction(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    const [, action] = new URL(req.url ?? "/", issuer).pathname.slice(INTERACTION_PREFIX.length).split("/");

    if (denyNextInteraction || action === "abort") {
      denyNextInteraction = false;
      await provider.interactionFinished(
        req,
        res,
        { error: "access_denied", error_description: "End-User denied the authorization request" },
        { mergeWithLastSubmission: false },
      );
      return;
    }

    const prompt = details.prompt.name;
    if (!options.interactive) {
      if (prompt === "login") {
        accounts.set(currentUser.sub, currentUser);
        await provider.interactionFinished(req, res, { login: { accountId: currentUser.sub } }, { mergeWithLastSubmission: false });
      } else {
        await provider.interactionFinished(req, res, { consent: { grantId: await grantEverything(details) } }, { mergeWithLastSubmission: true });
      }
      return;
    }

    // Interactive mode: GET shows a page, POST .../login and .../confirm act.
    if (prompt === "login") {
      if (req.method === "POST" && action === "login") {
        const form = await readForm(req);
        const username = form.get("username") ?? "";
        const user = Object.hasOwn(users, username) ? users[username] : undefined;
        if (!user) {
          sendHtml(res, 200, loginPage(brand, details.uid, "Unknown user"));
          return;
        }
        if (options.passwords && options.passwords[username] !== form.get("password")) {
          sendHtml(res, 200, loginPage(brand, details.uid, "Wrong password"));
          return;
        }
        accounts.set(user.sub, user);
        await provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
        return;
      }
      sendHtml(res, 200, loginPage(brand, details.uid));
      return;
    }
    if (req.method === "POST" && action === "confirm") {
      await provider.interactionFinished(req, res, { consent: { grantId: await grantEverything(details) } }, { mergeWithLastSubmission: true });
      return;
    }
    const client = await provider.Client.find(String(details.params["client_id"]));
    const clientName = options.clients.find((c) => c.client_id === client?.clientId)?.client_name ?? client?.clientId ?? "";
    sendHtml(res, 200, consentPage(brand, details.uid, clientName, String(details.params["scope"] ?? "")));
  }

  /** An API that tells a proxy test exactly what arrived, for requests with a valid access token. */
  async function echo(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.api += 1;
    const requestUrl = new URL(req.url ?? "/", issuer);
    if (options.api) {
      await options.api(req, res, {
        url: requestUrl,
        findAccessToken: async (token) => {
          const found = await provider.AccessToken.find(token);
          return found ? { accountId: String(found.accountId), scope: String(found.scope ?? "") } : undefined;
        },
      });
      return;
    }
    const body = await readBody(req);
    const match = /^bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    const accessToken = match ? await provider.AccessToken.find(match[1] as string) : undefined;
    if (!accessToken) {
      res.writeHead(401, { "content-type": "application/json", "www-authenticate": 'Bearer error="invalid_token"' });
      res.end(JSON.stringify({ error: "invalid_token" }));
      return;
    }
    const status = Number(requestUrl.searchParams.get("status") ?? 200);
    sendJson(res, Number.isInteger(status) && status >= 200 && status < 600 ? status : 200, {
      method: req.method,
      path: requestUrl.pathname,
      query: Object.fromEntries(requestUrl.searchParams),
      headers: req.headers,
      body: body.toString("utf8"),
      sub: accessToken.accountId,
      scope: accessToken.scope,
    });
  }

  /** Grant every scope, claim and resource scope the request asked for (an end user clicking "Allow"). */
  async function grantEverything(details: Awaited<ReturnType<Provider["interactionDetails"]>>): Promise<string> {
    const accountId = details.session?.accountId;
    if (!accountId) throw new Error("consent without a signed-in account");
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: String(details.params["client_id"]) });
    if (!grant) throw new Error("the interaction's grant has expired");
    const missing = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope?.length) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
    if (missing.missingOIDCClaims?.length) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(" "));
    }
    return grant.save();
  }

  return {
    issuer,
    url: issuer,
    port,
    get currentUser() {
      return currentUser;
    },
    setUser(user) {
      currentUser = user;
      accounts.set(user.sub, user);
    },
    denyNext() {
      denyNextInteraction = true;
    },
    failNextToken(status, body) {
      tokenFailures.push({ status, body: body ?? { error: status >= 500 ? "server_error" : "invalid_request" } });
    },
    expireAccessTokens() {
      store.expire("AccessToken");
    },
    revokeAll() {
      store.forget(["AccessToken", "RefreshToken", "AuthorizationCode", "Grant"]);
    },
    apiUrl: `${issuer}/api`,
    stats,
    lastAuthorizeParams: () => (issued.lastAuthorizeParams ? new URLSearchParams(issued.lastAuthorizeParams) : undefined),
    lastAuthorizeScopes: () => issued.lastAuthorizeParams && (issued.lastAuthorizeParams.get("scope") ?? "").split(" ").filter(Boolean),
    issuedAccessTokens: () => [...issued.accessTokens],
    issuedRefreshTokens: () => [...issued.refreshTokens],
    provider,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

interface AccountSource {
  findUser(sub: string): UpstreamUser | undefined;
  /** Who the automatic interactions sign in right now. */
  currentSub(): string;
}

function buildConfiguration(options: OidcUpstreamOptions, accounts: AccountSource, store: MemoryStore): Configuration {
  const clients: ClientMetadata[] = options.clients.map((client) => ({
    client_id: client.client_id,
    ...(client.client_secret === undefined ? {} : { client_secret: client.client_secret }),
    redirect_uris: client.redirect_uris,
    token_endpoint_auth_method: client.token_endpoint_auth_method ?? (client.client_secret === undefined ? "none" : "client_secret_basic"),
    grant_types: client.grant_types ?? ["authorization_code", "refresh_token"],
    response_types: ["code"],
  }));

  // A fresh signing key per upstream: nothing to commit, nothing shared between tests.
  const signingJwk = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });

  const policy = interactionPolicy.base();
  if (!options.interactive) {
    // After `setUser(bob)` a browser whose session belongs to alice must sign
    // in again. oidc-provider would end alice's session through an
    // auto-submitted logout form, which a test browser that only follows
    // redirects never submits; so the old user is signed out right here.
    policy.get("login")?.checks.add(
      new interactionPolicy.Check("upstream_user_changed", "the test switched the signed-in user", "login_required", (ctx) => {
        const session = ctx.oidc.session;
        if (session?.accountId === undefined || session.accountId === accounts.currentSub()) return false;
        delete session.accountId;
        session.authorizations = {};
        return true;
      }),
    );
  }

  return {
    adapter: store.adapter,
    clients,
    jwks: { keys: [{ ...signingJwk, kid: `upstream-${randomBytes(4).toString("hex")}`, use: "sig", alg: "RS256" }] as never },
    cookies: {
      // Signed cookies need keys; `secure` follows the (plain http) request, so the cookies work on 127.0.0.1.
      keys: [randomBytes(32).toString("hex")],
    },
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["name"],
    },
    scopes: ["openid", "offline_access", ...(options.scopes ?? [])],
    // Put scope-requested claims (email, name) in the ID token of the code flow too.
    conformIdTokenClaims: false,
    findAccount: (_ctx, sub) => {
      const user = accounts.findUser(sub);
      if (!user) return undefined;
      return {
        accountId: user.sub,
        claims: () => ({
          sub: user.sub,
          email: user.email,
          ...(user.emailVerified === null ? {} : { email_verified: user.emailVerified ?? true }),
          name: user.name,
        }),
      };
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      introspection: { enabled: true },
      userinfo: { enabled: true },
    },
    interactions: {
      policy,
      url: (_ctx, interaction) => `${INTERACTION_PREFIX}${interaction.uid}`,
    },
    pkce: { required: () => true },
    // Every client allowed the refresh_token grant gets a refresh token, with
    // or without `offline_access` (which oidc-provider honours only with prompt=consent).
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    rotateRefreshToken: options.rotateRefreshTokens ?? true,
    // Refresh tokens outlive the browser session, as offline access does at real IdPs.
    expiresWithSession: () => false,
    ttl: {
      AccessToken: options.accessTokenTtl ?? 3600,
      IdToken: 3600,
      AuthorizationCode: 60,
      RefreshToken: options.refreshTokenTtl ?? 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      Session: 14 * 24 * 3600,
      Interaction: 600,
    },
    clientBasedCORS: () => false,
    renderError: (ctx, out) => {
      ctx.type = "html";
      ctx.body = page("Error", `<h1>${escapeHtml(out.error)}</h1><p>${escapeHtml(out.error_description ?? "")}</p>`);
    },
  };
}

/** Count requests per endpoint and remember the tokens the token endpoint answered with. */
/**
 * Where the provider keeps codes, tokens, sessions and grants: one Map per
 * upstream. oidc-provider's own development adapter is an LRU of 1000 entries
 * shared by every provider in the process, which a load test would overflow.
 */
interface MemoryStore {
  adapter: (model: string) => Adapter;
  /** Make every stored instance of `model` expired (as if its lifetime had passed). */
  expire(model: string): void;
  /** Forget every stored instance of these models. */
  forget(models: string[]): void;
}

function createMemoryStore(): MemoryStore {
  const entries = new Map<string, { payload: AdapterPayload; expiresAt: number }>();
  const grantMembers = new Map<string, Set<string>>();
  const live = (key: string) => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= Date.now()) entries.delete(key);
    return entries.get(key)?.payload;
  };
  const adapter = (model: string): Adapter => {
    const keyFor = (id: string) => `${model}:${id}`;
    return {
      async upsert(id, payload, expiresIn) {
        const key = keyFor(id);
        entries.set(key, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
        if (payload.grantId) {
          const members = grantMembers.get(payload.grantId) ?? new Set<string>();
          members.add(key);
          grantMembers.set(payload.grantId, members);
        }
        if (payload.uid) entries.set(`${model}:uid:${payload.uid}`, { payload: { id } as AdapterPayload, expiresAt: Infinity });
        if (payload.userCode) entries.set(`${model}:userCode:${payload.userCode}`, { payload: { id } as AdapterPayload, expiresAt: Infinity });
      },
      async find(id) {
        return live(keyFor(id));
      },
      async findByUid(uid) {
        const ref = live(`${model}:uid:${uid}`) as { id?: string } | undefined;
        return ref?.id ? live(keyFor(ref.id)) : undefined;
      },
      async findByUserCode(userCode) {
        const ref = live(`${model}:userCode:${userCode}`) as { id?: string } | undefined;
        return ref?.id ? live(keyFor(ref.id)) : undefined;
      },
      async consume(id) {
        const payload = live(keyFor(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        entries.delete(keyFor(id));
      },
      async revokeByGrantId(grantId) {
        for (const key of grantMembers.get(grantId) ?? []) entries.delete(key);
        grantMembers.delete(grantId);
      },
    };
  };
  const ofModel = function* (model: string) {
    for (const [key, entry] of entries) if (key.startsWith(`${model}:`)) yield [key, entry] as const;
  };
  return {
    adapter,
    expire(model) {
      // Well past oidc-provider's clock tolerance (15 s by default).
      const past = Math.floor(Date.now() / 1000) - 3600;
      for (const [, entry] of ofModel(model)) {
        if (typeof entry.payload.exp !== "number") continue;
        entry.payload.exp = past;
        if (typeof entry.payload.iat === "number") entry.payload.iat = Math.min(entry.payload.iat, past - 1);
      }
    },
    forget(models) {
      for (const model of models) for (const [key] of ofModel(model)) entries.delete(key);
    },
  };
}

function observeEndpoints(
  provider: Provider,
  stats: UpstreamStats,
  issued: { accessTokens: string[]; refreshTokens: string[]; lastAuthorizeParams: URLSearchParams | undefined },
): void {
  provider.use(async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    await next();
    const route = ctx.oidc?.route;
    if (route === "authorization") {
      stats.authorize += 1;
      const params = (ctx.method === "GET" ? ctx.query : (ctx.oidc as unknown as { body?: Record<string, unknown> }).body) as
        Record<string, unknown> | undefined;
      issued.lastAuthorizeParams = new URLSearchParams(
        Object.entries(params ?? {}).flatMap(([key, value]): [string, string][] => (value === undefined ? [] : [[key, String(value)]])),
      );
    } else if (route === "userinfo") stats.userinfo += 1;
    else if (route === "revocation") stats.revocation += 1;
    else if (route === "token") {
      const grantType = String((ctx.oidc.params as Record<string, unknown> | undefined)?.["grant_type"] ?? "(none)");
      stats.tokenByGrant[grantType] = (stats.tokenByGrant[grantType] ?? 0) + 1;
      const body = ctx.body as { access_token?: unknown; refresh_token?: unknown } | undefined;
      if (typeof body?.access_token === "string") issued.accessTokens.push(body.access_token);
      if (typeof body?.refresh_token === "string") issued.refreshTokens.push(body.refresh_token);
    }
  });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new URLSearchParams((await readBody(req)).toString("utf8"));
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  res.end(html);
}

function sendError(res: ServerResponse, err: unknown): void {
  // An expired or unknown interaction (no cookie) is the user's problem, not a crash.
  if (res.headersSent) {
    res.end();
    return;
  }
  const message = err instanceof Error ? `${err.message}${"error_description" in err ? `: ${String(err.error_description)}` : ""}` : String(err);
  sendHtml(res, 400, page("Error", `<h1>interaction failed</h1><p>${escapeHtml(message)}</p>`));
}

function loginPage(brand: string, uid: string, error?: string): string {
  return page(
    "Sign in",
    `<h1>Sign in to ${escapeHtml(brand)}</h1>
${error ? `<p role="alert">${escapeHtml(error)}</p>` : ""}
<form method="post" action="${INTERACTION_PREFIX}${escapeHtml(uid)}/login">
  <label>Username <input type="text" name="username" autocomplete="username" autofocus></label>
  <label>Password <input type="password" name="password" autocomplete="current-password"></label>
  <button type="submit">Sign in</button>
</form>`,
  );
}

function consentPage(brand: string, uid: string, clientName: string, scope: string): string {
  return page(
    "Authorize",
    `<h1>Authorize ${escapeHtml(clientName)}</h1>
<p>${escapeHtml(clientName)} asks for access to your ${escapeHtml(brand)} account.</p>
<p>Requested scopes: ${escapeHtml(scope)}</p>
<form method="post" action="${INTERACTION_PREFIX}${escapeHtml(uid)}/confirm">
  <button type="submit">Allow</button>
</form>
<form method="post" action="${INTERACTION_PREFIX}${escapeHtml(uid)}/abort">
  <button type="submit">Deny</button>
</form>`,
  );
}

const PAGE_STYLE = `body{font:16px/1.5 system-ui,sans-serif;background:#fff7ed;color:#1c1917;margin:0}
main{max-width:24rem;margin:4rem auto;padding:2rem;background:#fff;border:1px solid #fed7aa;border-radius:12px}
h1{font-size:1.3rem;margin-top:0}label{display:block;margin:.75rem 0;font-weight:600}
input{display:block;width:100%;box-sizing:border-box;margin-top:.25rem;padding:.5rem;font:inherit;border:1px solid #d6d3d1;border-radius:6px}
button{margin:.75rem .5rem 0 0;padding:.55rem 1.2rem;font:inherit;border:0;border-radius:6px;background:#c2410c;color:#fff;cursor:pointer}
form{display:inline-block}form:has(input){display:block}form[action$="/abort"] button{background:#fff;color:#c2410c;border:2px solid #c2410c}[role=alert]{color:#b91c1c;font-weight:600}
:focus-visible{outline:3px solid #2563eb;outline-offset:2px}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title><style>${PAGE_STYLE}</style></head><body><main>${body}</main></body></html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
