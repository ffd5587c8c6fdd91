/**
 * Drives the whole unified flow the way an app and a browser would, for
 * tests that need a connected account (refresh, proxy…): register an app,
 * authorize with PKCE through TestBrowser, exchange the code with
 * openid-client.
 */
import * as client from "openid-client";
import { decodeJwt } from "jose";
import { reserveBrokerUrl, startTestBroker, type TestBroker } from "./broker.js";
import { startOAuth2Upstream, type OAuth2Upstream, type OAuth2UpstreamOptions } from "./oauth2-upstream.js";
import { TestBrowser } from "./browser.js";

export const TEST_APP_REDIRECT = "http://127.0.0.1:9/callback";
const insecure = { execute: [client.allowInsecureRequests] };

export interface TestApp {
  id: string;
  secret: string;
  config: client.Configuration;
}

export async function registerTestApp(
  broker: TestBroker,
  scopes = ["openid", "email", "profile", "offline_access", "proxy", "accounts:read"],
): Promise<TestApp> {
  const { client: app, secret } = await broker.services.clients.create({ name: "Test App", redirectUris: [TEST_APP_REDIRECT], scopes });
  const config = await client.discovery(new URL(broker.url), app.id, undefined, client.ClientSecretBasic(secret!), insecure);
  return { id: app.id, secret: secret!, config };
}

export interface ConnectedTestAccount {
  accountId: string;
  tokens: client.TokenEndpointResponse;
}

/** Connects an account at `connector` and returns its id and the app's broker tokens. */
export async function connectTestAccount(app: TestApp, connector: string, scope = "proxy offline_access"): Promise<ConnectedTestAccount> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(app.config, {
    redirect_uri: TEST_APP_REDIRECT,
    scope,
    connector,
    state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  });
  const back = await new TestBrowser().navigate(url.href, { stopAt: (u) => u.href.startsWith(TEST_APP_REDIRECT) });
  if (back.url.searchParams.get("error"))
    throw new Error(`connect failed: ${back.url.searchParams.get("error")} ${back.url.searchParams.get("error_description")}`);
  const tokens = await client.authorizationCodeGrant(app.config, back.url, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    idTokenExpected: scope.split(" ").includes("openid"),
  });
  return { accountId: String(decodeJwt(tokens.access_token).acct), tokens };
}

/** The broker's client at the GitHub-like upstream of `startBrokerWithGitHubLike`. */
const GH_CLIENT = { client_id: "broker-at-gh", client_secret: "gh-secret-0123456789" };

/**
 * A broker with one `oauth2` connector `gh` at a GitHub-like upstream
 * (identity from /user, revocation endpoint, echo API): the setup most
 * account, refresh and admin tests share. `connector` adds or overrides
 * connector fields; `upstream` and `env` go to the upstream and the broker.
 */
/**
 * The `oauth2` connector `gh` at a GitHub-like upstream (test/support/oauth2-upstream.ts):
 * identity from /user, bearer credentials to its echo API. `extra` adds or overrides fields.
 */
export function gitHubLikeConnector(
  upstream: Pick<OAuth2Upstream, "authorizationUrl" | "tokenUrl" | "apiUrl" | "userUrl">,
  registered: { client_id: string; client_secret: string },
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    id: "gh",
    name: "GitHub-like",
    auth: {
      kind: "oauth2",
      authorizationUrl: upstream.authorizationUrl,
      tokenUrl: upstream.tokenUrl,
      clientId: registered.client_id,
      clientSecret: registered.client_secret,
    },
    scopes: { user: ["read:user"] },
    defaultScopes: ["user"],
    api: { baseUrl: upstream.apiUrl, credentials: "bearer" },
    identity: { url: upstream.userUrl, subject: "id", email: "email", name: "name" },
    ...extra,
  };
}

export async function startBrokerWithGitHubLike(
  options: {
    connector?: Record<string, unknown>;
    upstream?: Partial<OAuth2UpstreamOptions>;
    env?: Record<string, string | undefined>;
    otherConnectors?: Record<string, unknown>;
  } = {},
): Promise<{ broker: TestBroker; upstream: OAuth2Upstream; stop(): Promise<void> }> {
  const reserved = await reserveBrokerUrl();
  const upstream = await startOAuth2Upstream({
    ...options.upstream,
    clients: [{ ...GH_CLIENT, redirect_uris: [reserved.callbackUrl(String(options.connector?.id ?? "gh"))] }],
  });
  const broker = await startTestBroker({
    port: reserved.port,
    env: options.env,
    connectors: {
      "gh.json": gitHubLikeConnector(upstream, GH_CLIENT, {
        auth: {
          kind: "oauth2",
          authorizationUrl: upstream.authorizationUrl,
          tokenUrl: upstream.tokenUrl,
          revocationUrl: upstream.revocationUrl,
          clientId: GH_CLIENT.client_id,
          clientSecret: GH_CLIENT.client_secret,
        },
        ...options.connector,
      }),
      ...options.otherConnectors,
    },
  }).catch(async (err: unknown) => {
    await upstream.close();
    throw err;
  });
  return {
    broker,
    upstream,
    stop: async () => {
      await broker.stop();
      await upstream.close();
    },
  };
}
