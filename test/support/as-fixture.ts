/**
 * The broker as authorization server, with real upstreams behind it, for the
 * oauth-*.test.ts files: a GitHub-like OAuth 2.0 server (connector `gh`) and
 * oidc-provider (connector `acme-oidc`), and apps registered directly in the
 * broker's registry with an openid-client Configuration found by discovery.
 */
import * as client from "openid-client";
import { decodeJwt } from "jose";
import { TestBrowser } from "./browser.js";
import type { CreateClientInput } from "../../src/apps/clients.js";
import { reserveBrokerUrl, startTestBroker, type TestBroker } from "./broker.js";
import { startOAuth2Upstream, type OAuth2Upstream } from "./oauth2-upstream.js";
import { startOidcUpstream, type OidcUpstream } from "./oidc-upstream.js";

export const APP_REDIRECT = "http://127.0.0.1:9/callback";
export const insecure = { execute: [client.allowInsecureRequests] };

export interface AsFixture {
  broker: TestBroker;
  github: OAuth2Upstream;
  oidc: OidcUpstream;
  close(): Promise<void>;
}

export interface FixtureApp {
  id: string;
  secret: string | undefined;
  config: client.Configuration;
}

export async function startAsFixture(options: { githubAccessTokenTtl?: number | null } = {}): Promise<AsFixture> {
  const reserved = await reserveBrokerUrl();
  const oidc = await startOidcUpstream({
    clients: [{ client_id: "broker-at-oidc", client_secret: "oidc-secret-0123456789", redirect_uris: [reserved.callbackUrl("acme-oidc")] }],
  });
  const github = await startOAuth2Upstream({
    clients: [{ client_id: "broker-at-gh", client_secret: "gh-secret-0123456789", redirect_uris: [reserved.callbackUrl("gh")] }],
    accessTokenTtl: options.githubAccessTokenTtl,
  });
  const broker = await startTestBroker({
    port: reserved.port,
    connectors: {
      "acme-oidc.json": {
        id: "acme-oidc",
        name: "Acme OIDC",
        auth: { kind: "oidc", issuer: oidc.issuer, clientId: "broker-at-oidc", clientSecret: "oidc-secret-0123456789" },
        scopes: { profile: ["openid", "email", "profile"], offline: ["offline_access"] },
        defaultScopes: ["profile", "offline"],
        api: { baseUrl: `${oidc.issuer}/api`, credentials: "bearer" },
      },
      "gh.json": {
        id: "gh",
        name: "GitHub-like",
        auth: {
          kind: "oauth2",
          authorizationUrl: github.authorizationUrl,
          tokenUrl: github.tokenUrl,
          clientId: "broker-at-gh",
          clientSecret: "gh-secret-0123456789",
        },
        scopes: { "repo.read": ["repo"], user: ["read:user", "user:email"] },
        defaultScopes: ["user"],
        api: { baseUrl: github.url, credentials: "bearer" },
        identity: { url: github.userUrl, subject: "id", email: "email", emailVerified: "email_verified", name: "name" },
      },
    },
  });
  return {
    broker,
    github,
    oidc,
    close: async () => {
      await broker.stop();
      await oidc.close();
      await github.close();
    },
  };
}

/** Registers an app and discovers the broker for it with openid-client. */
export async function registerApp(
  fixture: Pick<AsFixture, "broker">,
  input: Partial<CreateClientInput>,
  options: { auth?: (secret: string | undefined) => client.ClientAuth; execute?: ((config: client.Configuration) => void)[] } = {},
): Promise<FixtureApp> {
  const { client: app, secret } = await fixture.broker.services.clients.create({ name: "Test App", redirectUris: [APP_REDIRECT], ...input });
  const auth = options.auth ? options.auth(secret) : secret ? client.ClientSecretBasic(secret) : client.None();
  const config = await client.discovery(new URL(fixture.broker.url), app.id, undefined, auth, {
    execute: [client.allowInsecureRequests, ...(options.execute ?? [])],
  });
  return { id: app.id, secret, config };
}

/** The parameters of a fragment response (`#a=1&b=2`). */
export function fragmentOf(url: URL): URLSearchParams {
  return new URLSearchParams(url.hash.slice(1));
}

let nextUserId = 90_000;

export interface ConnectAccountOptions {
  /** @defaultValue "gh" */
  connector?: "gh" | "acme-oidc";
  /** What the upstream says of the new user's email: verified, not, or `null` for nothing. @defaultValue the upstream's own (oidc-provider: true; GitHub-like: nothing) */
  emailVerified?: boolean | null;
  /** The browser to connect in (it keeps the broker's cookies, e.g. the user cookie of oauth/user-cookie.ts). @defaultValue a new one */
  browser?: TestBrowser;
}

/**
 * Connects a new end user's account at the GitHub-like upstream (or the
 * OIDC one) through the code flow with PKCE (the app's Configuration must
 * be for response_type code) and returns the app's tokens.
 */
export async function connectAccount(
  fixture: AsFixture,
  app: FixtureApp,
  scope = "openid email profile proxy offline_access",
  options: ConnectAccountOptions = {},
): Promise<client.TokenEndpointResponse & client.TokenEndpointResponseHelpers & { accountId: string }> {
  nextUserId += 1;
  const user = { email: `user${nextUserId}@example.test`, name: `User ${nextUserId}` };
  const connector = options.connector ?? "gh";
  if (connector === "gh") {
    fixture.github.setUser({
      id: nextUserId,
      login: `user${nextUserId}`,
      ...user,
      ...(typeof options.emailVerified === "boolean" ? { email_verified: options.emailVerified } : {}),
    });
  } else {
    fixture.oidc.setUser({ sub: `user${nextUserId}`, ...user, emailVerified: options.emailVerified });
  }
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(app.config, {
    redirect_uri: APP_REDIRECT,
    scope,
    connector,
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  });
  const back = await (options.browser ?? new TestBrowser()).navigate(url, { stopAt: (u) => u.href.startsWith(APP_REDIRECT) });
  const openid = scope.split(" ").includes("openid");
  const tokens = await client.authorizationCodeGrant(app.config, back.url, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: openid ? nonce : undefined,
    idTokenExpected: openid,
  });
  return Object.assign(tokens, { accountId: String(decodeJwt(tokens.access_token).acct) });
}
