/**
 * Who may call the proxy (issue 7): an account-bound broker token with
 * scope `proxy` on /v1/proxy, a token of the owning app on
 * /v1/accounts/{id}/proxy. Missing, malformed, foreign-signed, expired and
 * revoked tokens get 401 with an RFC 6750 challenge; a token without
 * `proxy` gets 403 insufficient_scope; an account of another app is
 * answered exactly like one that does not exist (404); an account that
 * must be reconnected gets 409. Nothing refused reaches the upstream.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as oidc from "openid-client";
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from "jose";
import { ElicitRequestURLParamsSchema } from "@modelcontextprotocol/sdk/types.js";
import { reserveBrokerUrl, startTestBroker, type TestBroker } from "../../support/broker.js";
import { startOAuth2Upstream, type OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { connectTestAccount, registerTestApp, type TestApp, gitHubLikeConnector } from "../../support/flow.js";
import {
  accountToken,
  apiKeyCaller,
  apiKeyConnector,
  headerCheck,
  rawRequest,
  startApiUpstream,
  storeTestAccount,
  type ApiUpstream,
  type RawResponse,
} from "../../support/api-upstream.js";
import { revokeAccessToken, revokedJtiKey, revokeFamily } from "../../../src/revocation/revocation.js";
import { sealUserCookie, userCookieName } from "../../../src/oauth/user-cookie.js";
import { issueAccessToken } from "../../../src/oauth/tokens.js";

const API_KEY = "sk_test_auth_0123";
const insecure = { execute: [oidc.allowInsecureRequests] };

interface ErrorBody {
  error: string;
  error_description: string;
  request_id: string;
}

function assertRefused(res: RawResponse, status: number, error: string): ErrorBody {
  assert.equal(res.status, status, res.text);
  const body = res.json<ErrorBody>();
  assert.equal(body.error, error);
  assert.equal(typeof body.error_description, "string");
  assert.equal(body.request_id, res.headers["x-request-id"], "the body names the request id");
  assert.match(String(res.headers["content-type"]), /^application\/json/);
  return body;
}

describe("who may call the proxy", () => {
  let broker: TestBroker;
  let github: OAuth2Upstream;
  let api: ApiUpstream;
  let app: TestApp;
  let otherApp: { id: string; config: oidc.Configuration };
  let backend: { id: string; config: oidc.Configuration };
  /** An api_key account of `backend` and one of `otherApp`. */
  let backendAccount: string;
  let otherAccount: string;

  async function machineApp(name: string, scopes: string[]) {
    const { client, secret } = await broker.services.clients.create({ name, redirectUris: [], grantTypes: ["client_credentials"], scopes });
    return { id: client.id, config: await oidc.discovery(new URL(broker.url), client.id, undefined, oidc.ClientSecretBasic(secret!), insecure) };
  }

  before(async () => {
    const reserved = await reserveBrokerUrl();
    github = await startOAuth2Upstream({ clients: [{ client_id: "b", client_secret: "b-secret-0123456789", redirect_uris: [reserved.callbackUrl("gh")] }] });
    api = await startApiUpstream({ check: headerCheck("X-Api-Key", API_KEY) });
    broker = await startTestBroker({
      port: reserved.port,
      connectors: {
        "gh.json": gitHubLikeConnector(github, { client_id: "b", client_secret: "b-secret-0123456789" }),
        "acme.json": apiKeyConnector(api, { baseUrl: `${api.url}/echo` }),
      },
    });
    app = await registerTestApp(broker);
    backend = await machineApp("Backend", ["proxy", "accounts:read"]);
    otherApp = await machineApp("Other", ["proxy"]);
    backendAccount = await storeTestAccount(broker.services, { appId: backend.id, connectorId: "acme", tokens: { fields: { key: API_KEY } } });
    otherAccount = await storeTestAccount(broker.services, { appId: otherApp.id, connectorId: "acme", tokens: { fields: { key: API_KEY } } });
  });

  after(async () => {
    await broker?.stop();
    await Promise.all([github?.close(), api?.close()]);
  });

  const proxy = (token: string | undefined, path = "/v1/proxy/things", headers: Record<string, string> = {}) =>
    rawRequest(broker.url, { path, headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers } });

  /** Runs `fn` and asserts the upstream saw no request meanwhile. */
  async function upstreamUntouched<T>(fn: () => Promise<T>): Promise<T> {
    const before = api.requests.length + github.stats.api;
    const result = await fn();
    assert.equal(api.requests.length + github.stats.api, before, "nothing reached the upstream");
    return result;
  }

  describe("the broker token is checked before anything is forwarded", () => {
    it("no token: 401 with a bare Bearer challenge (RFC 6750 §3.1) naming the proxy's metadata (RFC 9728 §5.1)", async () => {
      const res = await upstreamUntouched(() => proxy(undefined));
      assertRefused(res, 401, "invalid_token");
      assert.equal(
        res.headers["www-authenticate"],
        `Bearer realm="authbroker", resource_metadata="${broker.services.config.issuer}/.well-known/oauth-protected-resource/v1/proxy"`,
      );
    });

    it("another scheme than Bearer: 401 invalid_token", async () => {
      const res = await upstreamUntouched(() => proxy(undefined, "/v1/proxy/things", { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` }));
      assertRefused(res, 401, "invalid_token");
      assert.match(String(res.headers["www-authenticate"]), /^Bearer realm="authbroker", error="invalid_token"/);
    });

    for (const [what, token] of [
      ["a malformed token", "not-a-jwt"],
      ["a token of three garbage parts", "eyJhbGciOiJFUzI1NiJ9.e30.AAAA"],
    ] as const) {
      it(`${what}: 401 invalid_token`, async () => {
        const res = await upstreamUntouched(() => proxy(token));
        assertRefused(res, 401, "invalid_token");
        assert.match(String(res.headers["www-authenticate"]), /error="invalid_token"/);
      });
    }

    it("a token signed by a key that is not the broker's: 401 invalid_token", async () => {
      const { privateKey, publicKey } = await generateKeyPair("ES256");
      const kid = (await exportJWK(publicKey)).x!.slice(0, 8);
      const now = Math.floor(Date.now() / 1000);
      const forged = await new SignJWT({ scope: "proxy", client_id: backend.id, acct: backendAccount, connector: "acme", jti: "forged-1" })
        .setProtectedHeader({ alg: "ES256", kid, typ: "at+jwt" })
        .setIssuer(broker.url)
        .setAudience(broker.url)
        .setSubject(backendAccount)
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(privateKey);
      assertRefused(await upstreamUntouched(() => proxy(forged)), 401, "invalid_token");
    });

    it("an expired token: 401 invalid_token saying so", async () => {
      const expired = await accountToken(broker.services, { appId: backend.id, accountId: backendAccount, connectorId: "acme", ttl: -3600 });
      const body = assertRefused(await upstreamUntouched(() => proxy(expired)), 401, "invalid_token");
      assert.match(body.error_description, /expired/);
    });

    it("a token that expires after its signature was checked is refused once it expires", async () => {
      // exp 58 s ago: within the 60 s clock leeway for one to two more seconds.
      const token = await accountToken(broker.services, { appId: backend.id, accountId: backendAccount, connectorId: "acme", ttl: -58 });
      assert.equal((await proxy(token)).status, 200, "accepted within the leeway");
      await new Promise((resolve) => setTimeout(resolve, 2200));
      const body = assertRefused(await upstreamUntouched(() => proxy(token)), 401, "invalid_token");
      assert.match(body.error_description, /expired/);
    });

    it("a revoked token (RFC 7009): 401 invalid_token, although its signature is valid", async () => {
      const token = await accountToken(broker.services, { appId: backend.id, accountId: backendAccount, connectorId: "acme" });
      assert.equal((await proxy(token)).status, 200, "valid before");
      await revokeAccessToken(broker.services.redis, decodeJwt(token) as { jti: string; exp: number });
      const body = assertRefused(await upstreamUntouched(() => proxy(token)), 401, "invalid_token");
      assert.match(body.error_description, /revoked/);
    });

    it("a revocation only the Redis store holds (its message never reached this process): 401 invalid_token", async () => {
      // Another broker process revoked the token before this one subscribed, or the
      // message was lost: the key in Redis is all there is, and it must suffice.
      const token = await accountToken(broker.services, { appId: backend.id, accountId: backendAccount, connectorId: "acme" });
      await broker.services.redis.set(revokedJtiKey(String(decodeJwt(token).jti)), "1", "EX", 600);
      const body = assertRefused(await upstreamUntouched(() => proxy(token)), 401, "invalid_token");
      assert.match(body.error_description, /revoked/);
    });

    it("a token of a revoked grant (from the real authorization-code flow): 401 invalid_token", async () => {
      const { tokens } = await connectTestAccount(app, "gh");
      assert.equal((await proxy(tokens.access_token, "/v1/proxy/user")).status, 200, "valid before");
      await revokeFamily(broker.services, String(decodeJwt(tokens.access_token).gid), "test");
      assertRefused(await upstreamUntouched(() => proxy(tokens.access_token, "/v1/proxy/user")), 401, "invalid_token");
    });

    it("an ID token is not an access token (RFC 9068 §4: typ at+jwt): 401", async () => {
      const { tokens } = await connectTestAccount(app, "gh", "openid proxy");
      assert.ok(tokens.id_token);
      assertRefused(await upstreamUntouched(() => proxy(tokens.id_token)), 401, "invalid_token");
    });

    it("a token without the proxy scope: 403 insufficient_scope naming the scope", async () => {
      const token = await accountToken(broker.services, { appId: backend.id, accountId: backendAccount, connectorId: "acme", scope: "accounts:read" });
      const res = await upstreamUntouched(() => proxy(token));
      assertRefused(res, 403, "insufficient_scope");
      assert.match(String(res.headers["www-authenticate"]), /error="insufficient_scope".*scope="proxy"/);
    });
  });

  describe("/v1/proxy acts for the token's account", () => {
    it("an account-bound token from the real flow reaches its account's API", async () => {
      const { tokens } = await connectTestAccount(app, "gh");
      const res = await proxy(tokens.access_token, "/v1/proxy/user/repos");
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json<{ path: string }>().path, "/api/user/repos");
    });

    it("a token of the app itself (client_credentials) is refused there: it names no account", async () => {
      const { access_token } = await oidc.clientCredentialsGrant(backend.config, { scope: "proxy" });
      const body = assertRefused(await upstreamUntouched(() => proxy(access_token)), 400, "invalid_request");
      assert.match(body.error_description, /\/v1\/accounts\/\{accountId\}\/proxy/);
    });

    it("an account that must be reconnected: 409 account_needs_reauth, with the elicitation to reconnect it for an account-bound token", async () => {
      const accountId = await storeTestAccount(broker.services, { appId: backend.id, connectorId: "acme", tokens: { fields: { key: API_KEY } } });
      await broker.services.db.account.update({ where: { id: accountId }, data: { status: "needs_reauth" } });
      const token = await accountToken(broker.services, { appId: backend.id, accountId, connectorId: "acme" });
      const body = assertRefused(await upstreamUntouched(() => proxy(token)), 409, "account_needs_reauth") as ErrorBody & { elicitations?: unknown[] };
      assert.equal(body.elicitations?.length, 1);
      const elicitation = ElicitRequestURLParamsSchema.parse(body.elicitations[0]);
      assert.ok(elicitation.url.startsWith(`${broker.url}/connect/on-demand/`), elicitation.url);
      assert.match(elicitation.message, /Reconnect/);
      // The account was stored without a browser flow, so the cookie naming its user (user-cookie.ts) is made here.
      assert.equal((await fetch(elicitation.url)).status, 403, "not in a browser of the account's user");
      const userCookie = `${userCookieName(backend.id)}=${sealUserCookie(broker.services.keyring, backend.id, accountId, Date.now() + 60_000)}`;
      const page = await fetch(elicitation.url, { headers: { cookie: userCookie } });
      assert.equal(page.status, 200, "the link opens the confirmation page in the user's browser");
      // The app's own token acts for no end user at hand: the bare error.
      const { access_token } = await oidc.clientCredentialsGrant(backend.config, { scope: "proxy" });
      const appBody = assertRefused(await upstreamUntouched(() => proxy(access_token, `/v1/accounts/${accountId}/proxy/things`)), 409, "account_needs_reauth");
      assert.equal((appBody as ErrorBody & { elicitations?: unknown }).elicitations, undefined);
    });

    it("a token for an account that was deleted: 404", async () => {
      const accountId = await storeTestAccount(broker.services, { appId: backend.id, connectorId: "acme", tokens: { fields: { key: API_KEY } } });
      const token = await accountToken(broker.services, { appId: backend.id, accountId, connectorId: "acme" });
      await broker.services.db.account.delete({ where: { id: accountId } });
      assertRefused(await upstreamUntouched(() => proxy(token)), 404, "not_found");
    });
  });

  describe("/v1/accounts/{id}/proxy acts for any account of the calling app", () => {
    it("the owning app's client_credentials token reaches the account's API", async () => {
      const { access_token } = await oidc.clientCredentialsGrant(backend.config, { scope: "proxy" });
      const res = await proxy(access_token, `/v1/accounts/${backendAccount}/proxy/projects?page=2`);
      assert.equal(res.status, 200, res.text);
      const echo = res.json<{ rawUrl: string; headers: Record<string, string> }>();
      assert.equal(echo.rawUrl, "/echo/projects?page=2");
      assert.equal(echo.headers["x-api-key"], API_KEY);
    });

    it("an account of another app is answered exactly like an unknown one: 404, and nothing is forwarded", async () => {
      const { access_token } = await oidc.clientCredentialsGrant(backend.config, { scope: "proxy" });
      const foreign = assertRefused(await upstreamUntouched(() => proxy(access_token, `/v1/accounts/${otherAccount}/proxy/projects`)), 404, "not_found");
      const unknown = assertRefused(await upstreamUntouched(() => proxy(access_token, "/v1/accounts/acc_doesnotexist/proxy/projects")), 404, "not_found");
      assert.equal(foreign.error_description.replace(otherAccount, "ID"), unknown.error_description.replace("acc_doesnotexist", "ID"), "the same answer");
    });

    it("an app token without the proxy scope: 403 insufficient_scope", async () => {
      const { access_token } = await oidc.clientCredentialsGrant(backend.config, { scope: "accounts:read" });
      assertRefused(await upstreamUntouched(() => proxy(access_token, `/v1/accounts/${backendAccount}/proxy/projects`)), 403, "insufficient_scope");
    });

    it("an account-bound token works for its own account only", async () => {
      const token = await accountToken(broker.services, { appId: backend.id, accountId: backendAccount, connectorId: "acme" });
      assert.equal((await proxy(token, `/v1/accounts/${backendAccount}/proxy/projects`)).status, 200);
      const sibling = await storeTestAccount(broker.services, { appId: backend.id, connectorId: "acme", tokens: { fields: { key: API_KEY } } });
      assertRefused(await upstreamUntouched(() => proxy(token, `/v1/accounts/${sibling}/proxy/projects`)), 404, "not_found");
    });
  });

  describe("what the mutation run showed untested (docs/security.md, Mutation testing)", () => {
    it("the refusal says what was wrong with the Authorization header", async () => {
      assert.equal(assertRefused(await proxy(undefined), 401, "invalid_token").error_description, "a bearer access token is required");
      const basic = await proxy(undefined, "/v1/proxy/things", { authorization: "Basic YTpi" });
      assert.equal(assertRefused(basic, 401, "invalid_token").error_description, "the Authorization header is not a bearer token");
      assert.equal(
        basic.headers["www-authenticate"],
        `Bearer realm="authbroker", error="invalid_token", error_description="the Authorization header is not a bearer token", resource_metadata="${broker.url}/.well-known/oauth-protected-resource/v1/proxy"`,
      );
    });

    it("a token without the proxy scope is told which scope it lacks, in the body and the challenge", async () => {
      const token = await accountToken(broker.services, { appId: backend.id, accountId: backendAccount, connectorId: "acme", scope: "accounts:read proxy:x" });
      const res = await upstreamUntouched(() => proxy(token));
      assert.equal(assertRefused(res, 403, "insufficient_scope").error_description, 'the access token lacks the "proxy" scope');
      assert.equal(
        res.headers["www-authenticate"],
        `Bearer realm="authbroker", error="insufficient_scope", error_description="the access token lacks the proxy scope", scope="proxy", resource_metadata="${broker.url}/.well-known/oauth-protected-resource/v1/proxy"`,
      );
    });

    it("a token whose account claim is empty names no account on /v1/proxy", async () => {
      const token = await accountToken(broker.services, { appId: backend.id, accountId: "", connectorId: "acme" });
      assertRefused(await upstreamUntouched(() => proxy(token)), 400, "invalid_request");
    });

    it("a token without an account that is not the app's own (sub is not the client) reaches no account", async () => {
      const { accessToken } = await issueAccessToken(broker.services, {
        client: { id: backend.id, accessTokenTtl: 3600 },
        subject: "someone-else",
        scope: "proxy",
      });
      assertRefused(await upstreamUntouched(() => proxy(accessToken, `/v1/accounts/${backendAccount}/proxy/projects`)), 404, "not_found");
    });

    it("a token bound to an account reaches no other, even with the app as its subject; the answer is an unknown account's", async () => {
      const sibling = await storeTestAccount(broker.services, { appId: backend.id, connectorId: "acme", tokens: { fields: { key: API_KEY } } });
      const { accessToken } = await issueAccessToken(broker.services, {
        client: { id: backend.id, accessTokenTtl: 3600 },
        subject: backend.id,
        accountId: backendAccount,
        scope: "proxy",
      });
      const body = assertRefused(await upstreamUntouched(() => proxy(accessToken, `/v1/accounts/${sibling}/proxy/projects`)), 404, "not_found");
      assert.equal(body.error_description, `no account ${sibling}`);
    });
  });
});

describe("the proxy and retired signing keys", () => {
  let broker: TestBroker;
  let api: ApiUpstream;

  before(async () => {
    api = await startApiUpstream({ check: headerCheck("X-Api-Key", API_KEY) });
    broker = await startTestBroker({ connectors: { "acme.json": apiKeyConnector(api, { baseUrl: `${api.url}/echo` }) } });
  });
  after(async () => {
    await broker?.stop();
    await api?.close();
  });

  it("a token the proxy already accepted is refused as soon as its signing key is no longer published", async () => {
    const { token } = await apiKeyCaller(broker.services, { connectorId: "acme", apiKey: API_KEY });
    const call = () => rawRequest(broker.url, { path: "/v1/proxy/items", headers: { authorization: `Bearer ${token}` } });
    assert.equal((await call()).status, 200);
    // An operator pulls the key (say it leaked): rotate, then retire the old key at once.
    await broker.services.signingKeys.rotate(0);
    await broker.services.signingKeys.retireExpired(new Date(Date.now() + 3_600_000));
    broker.services.signingKeys.invalidate();
    assertRefused(await call(), 401, "invalid_token");
  });
});
