/**
 * The connector conformance harness (docs/connectors.md, "Conformance
 * tests"): a SHIPPED connector file, loaded as it is except for its
 * provider's origins, which are rewritten to a local fake provider
 * (fake-provider.ts), then driven through the broker's real connect flow,
 * refresh, proxy and revocation.
 *
 * The rewrite changes only scheme and authority (`https://login.microsoftonline.com`
 * → `http://127.0.0.1:PORT`): every path, parameter, scope, header and
 * setting of the file is what runs against the real provider. A rewrite
 * that matches nothing fails, so a test cannot silently stop covering a URL.
 *
 * Usage (one test file per connector, test/integration/conformance/):
 *
 *   const run = await startConformance({
 *     connector: "microsoft-graph",
 *     origins: ["https://login.microsoftonline.com", "https://graph.microsoft.com"],
 *     provider: entraProfile(),
 *     user: entraUser(),
 *   });
 *   const account = await run.connect();           // real /oauth/authorize → fake sign-in → callback
 *   await run.refresh(account.accountId);           // the shared single-flight refresh path
 *   const res = await run.proxy(account, "/me");    // /v1/proxy through the file's api section
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as client from "openid-client";
import { decodeJwt } from "jose";
import { reserveBrokerUrl, startTestBroker, type TestBroker } from "../broker.js";
import { registerTestApp, TEST_APP_REDIRECT, type TestApp } from "../flow.js";
import { TestBrowser } from "../browser.js";
import { rawRequest } from "../api-upstream.js";
import { startFakeProvider, type FakeProvider, type FakeProviderProfile, type FakeUser } from "./fake-provider.js";
import { setConnectorCredentials } from "../../../src/connectors/credentials.js";
import { refreshAccount, type RefreshResult } from "../../../src/accounts/refresh.js";
import { readCredentials } from "../../../src/accounts/vault.js";
import { usesClientCredentials } from "../../../src/connectors/kinds/catalog.js";

const SHIPPED_DIR = fileURLToPath(new URL("../../../connectors/", import.meta.url));

/** The text of a shipped connector file. */
export function shippedConnectorText(id: string): string {
  return readFileSync(`${SHIPPED_DIR}${id}.yaml`, "utf8");
}

/**
 * A shipped file with each of `origins` (`https://host`, or `https://{hostname}`
 * for a per-server file) replaced by `target`. Throws when an origin does not occur.
 */
export function pointShippedConnectorAt(id: string, origins: string[], fakeOrigin: string): string {
  let text = shippedConnectorText(id);
  for (const origin of origins) {
    // A per-server file's `https://{hostname}` keeps its placeholder: the end user types the fake's host and port.
    const target = origin.includes("{hostname}") ? origin.replace(/^https:/, "http:") : fakeOrigin;
    if (!text.includes(origin)) throw new Error(`connectors/${id}.yaml does not use ${origin}: the conformance test is out of date`);
    // Only at a URL's authority: `https://graph.microsoft.com/v1.0` keeps its path; `…com.evil` never matches a longer host.
    text = text.replace(new RegExp(`${escapeRegExp(origin)}(?=[/"'\\s]|$)`, "gm"), target);
  }
  return text;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export interface ConformanceOptions {
  /** The shipped file's id (connectors/<id>.yaml). */
  connector: string;
  /** The provider origins the file names, all served by the fake. */
  origins: string[];
  provider: FakeProviderProfile;
  /** The user the fake signs in first. */
  user: FakeUser;
  /**
   * Per-server files (`https://{hostname}`): the end user types the fake's
   * `127.0.0.1:PORT`, and the broker's client credentials are registered for
   * that server (`credentials set --hostname`). Put `https://{hostname}` in `origins`.
   */
  perServer?: boolean;
  /**
   * Host patterns of the file's `values` (`*.my.salesforce.com`) rewritten to
   * the fake's `127.0.0.1:PORT`, as `origins` are: the upstream's answers
   * name the fake. A pattern the file does not list fails.
   */
  valueHosts?: string[];
  /** Extra broker environment. */
  env?: Record<string, string | undefined>;
  /** Connectors whose end user types values (api_key, basic): what the connect form is filled with. */
  formValues?: () => Record<string, string>;
  /**
   * Edits the pointed file's text before the broker loads it: for a test that
   * shows what a field is for (the file without it must fail against the fake).
   */
  edit?: (text: string) => string;
  /**
   * Whether the broker has client credentials at the provider (the profile's `client`).
   * False for kinds whose end users bring their own (`api_key`, `basic`). @defaultValue true
   */
  clientCredentials?: boolean;
}

export interface ConformanceAccount {
  accountId: string;
  /** The app's broker tokens for the account. */
  tokens: client.TokenEndpointResponse;
}

export interface ConformanceRun {
  broker: TestBroker;
  provider: FakeProvider;
  app: TestApp;
  /** What `{hostname}` was filled with (per-server files). */
  hostname?: string;
  /**
   * Connects the fake's current user through the unified flow; throws with the error the app got.
   * `fields` are typed on the credentials page (`api_key` and `basic` connectors).
   */
  connect(scope?: string, options?: { fields?: Record<string, string> }): Promise<ConformanceAccount>;
  /** The broker's stored account row. */
  account(accountId: string): ReturnType<TestBroker["services"]["db"]["account"]["findUniqueOrThrow"]>;
  /** The account's opened credentials (expiry, expiry source, kept values). */
  credentials(accountId: string): ReturnType<typeof readCredentials>;
  /** A forced refresh through the path the worker and the proxy share. */
  refresh(accountId: string): Promise<RefreshResult>;
  /** A call through the proxy as the app. */
  proxy(account: ConformanceAccount, path: string, init?: { method?: string; headers?: Record<string, string>; body?: string }): ReturnType<typeof rawRequest>;
  /** Removes the account through the accounts API (which revokes its upstream tokens). */
  removeAccount(account: ConformanceAccount): ReturnType<typeof rawRequest>;
  stop(): Promise<void>;
}

export async function startConformance(options: ConformanceOptions): Promise<ConformanceRun> {
  const reserved = await reserveBrokerUrl();
  // The fake must know the callback before it starts, and a per-server callback names the fake's own port:
  // the fake accepts any callback of this connector at this broker.
  const redirectUris: string[] = [];
  const provider = await startFakeProvider(options.provider, { user: options.user, redirectUris });
  const hostname = options.perServer ? `127.0.0.1:${provider.port}` : undefined;
  redirectUris.push(reserved.callbackUrl(options.connector, hostname));
  let pointed = pointShippedConnectorAt(options.connector, options.origins, provider.origin);
  for (const pattern of options.valueHosts ?? []) {
    const quoted = `"${pattern}"`;
    if (!pointed.includes(quoted))
      throw new Error(`connectors/${options.connector}.yaml does not list the host ${quoted}: the conformance test is out of date`);
    pointed = pointed.replaceAll(quoted, `"127.0.0.1:${provider.port}"`);
  }
  const text = options.edit ? options.edit(pointed) : pointed;
  let broker: TestBroker;
  try {
    broker = await startTestBroker({ port: reserved.port, env: options.env, connectors: { [`${options.connector}.yaml`]: text } });
  } catch (err) {
    await provider.close();
    throw err;
  }
  // Kinds whose end users bring their own credentials have no client of the broker's to register.
  if (options.clientCredentials !== false && usesClientCredentials(broker.services.connectors.get(options.connector)!))
    await setConnectorCredentials(broker.services, {
      connectorId: options.connector,
      hostname,
      clientId: options.provider.client.id,
      clientSecret: options.provider.client.secret,
    });
  const app = await registerTestApp(broker, ["openid", "email", "profile", "offline_access", "proxy", "accounts:read", "accounts:write"]);

  const connect = (scope?: string, connectOptions: { fields?: Record<string, string> } = {}) =>
    connectThroughBroker(app, options.connector, { scope, hostname, fields: connectOptions.fields ?? options.formValues?.() });

  return {
    broker,
    provider,
    app,
    hostname,
    connect,
    account: (accountId) => broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } }),
    credentials: (accountId) => readCredentials(broker.services.db, broker.services.keyring, accountId),
    refresh: (accountId) => refreshAccount(broker.services, accountId, { force: true }),
    proxy: (account, path, init = {}) =>
      rawRequest(broker.url, {
        method: init.method,
        path: `/v1/proxy${path}`,
        headers: { authorization: `Bearer ${account.tokens.access_token}`, ...init.headers },
        body: init.body,
      }),
    removeAccount: (account) =>
      rawRequest(broker.url, {
        method: "DELETE",
        path: `/v1/accounts/${account.accountId}`,
        headers: { authorization: `Bearer ${account.tokens.access_token}` },
      }),
    stop: async () => {
      await broker.stop();
      await provider.close();
    },
  };
}

/**
 * Connects an account through the broker's unified flow as an end user
 * would (the app's authorization request, the hostname page of a per-server
 * connector, the key or password form, the upstream's sign-in), then
 * redeems the code as the app; throws with the error the app got.
 */
export async function connectThroughBroker(
  app: TestApp,
  connector: string,
  options: { scope?: string; hostname?: string; fields?: Record<string, string> } = {},
): Promise<ConformanceAccount> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(app.config, {
    redirect_uri: TEST_APP_REDIRECT,
    scope: options.scope ?? "proxy offline_access accounts:read accounts:write",
    connector,
    ...(options.hostname ? { hostname: options.hostname } : {}),
    state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  });
  const browser = new TestBrowser();
  const toApp = { stopAt: (u: URL) => u.href.startsWith(TEST_APP_REDIRECT) };
  let page = await browser.navigate(url.href, toApp);
  // A per-server connector confirms the suggested hostname on its page first.
  if (!page.url.href.startsWith(TEST_APP_REDIRECT) && page.url.pathname === "/connect/hostname") page = await browser.submitForm(page, toApp);
  // Connectors whose end users type a key or a password: the broker's form, filled as the test says, checked at the (fake) provider.
  if (!page.url.href.startsWith(TEST_APP_REDIRECT) && options.fields) page = await browser.submitForm(page, { ...toApp, fields: options.fields });
  if (!page.url.href.startsWith(TEST_APP_REDIRECT)) throw new Error(`connect stopped at ${page.url.href} (HTTP ${page.status}): ${page.body.slice(0, 2000)}`);
  const error = page.url.searchParams.get("error");
  if (error) throw new Error(`connect failed: ${error}: ${page.url.searchParams.get("error_description")}`);
  const tokens = await client.authorizationCodeGrant(app.config, page.url, { pkceCodeVerifier: verifier, expectedState: state });
  return { accountId: String(decodeJwt(tokens.access_token).acct), tokens };
}
