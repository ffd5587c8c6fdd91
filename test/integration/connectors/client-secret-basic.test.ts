/**
 * `client_secret_basic` at upstream token endpoints (RFC 6749 §2.3.1)
 * against two real servers: one that form-decodes the Basic credentials,
 * as the RFC says, and one that compares them as written, as many deployed
 * servers and libraries do. The broker's client id holds `-`, `.`, `_` and
 * `~`, which need no encoding: both must accept it by default. A secret
 * with `+`, `/` and `=` needs the connector's `clientSecretBasicEncoding`
 * at a server that does not decode.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { parseConnectorText } from "../../../src/connectors/loader.js";
import { upstreamScopesFor } from "../../../src/connectors/scopes.js";
import { buildKindContext } from "../../../src/connectors/context.js";
import { loadBuiltInKinds, isRedirectAuthorizer, type AuthKinds } from "../../../src/connectors/kinds/index.js";
import type { ConnectorConfig } from "../../../src/connectors/schema.js";
import { UpstreamError } from "../../../src/errors.js";
import { createTestServices, type TestServices } from "../../support/services.js";
import { startOAuth2Upstream, OCTOCAT, type OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { TestBrowser } from "../../support/browser.js";

const ISSUER = "http://127.0.0.1:9";
const CALLBACK = `${ISSUER}/connect/callback`;
const APP = "app_basic_encoding";

/** Characters that need no encoding, in both the id and the secret. */
const PLAIN = { client_id: "broker-app.v2_eu~1", client_secret: "s3cret-value_with.dots~tilde" };
/** A base64-like secret: `+`, `/` and `=` must be encoded for a server that decodes, and must not be for one that does not. */
const BASE64ISH = { client_id: "broker-b64", client_secret: "Ab+cd/Ef==" };

describe("client_secret_basic at upstreams that do and do not decode the credentials", () => {
  let services: TestServices;
  let decoding: OAuth2Upstream;
  let asWritten: OAuth2Upstream;
  let kinds: AuthKinds;

  before(async () => {
    kinds = await loadBuiltInKinds();
    services = await createTestServices({ BROKER_ISSUER: ISSUER });
    await services.db.app.create({
      data: {
        id: APP,
        name: "Basic encoding test app",
        tokenEndpointAuthMethod: "client_secret_basic",
        redirectUris: ["http://127.0.0.1:9/cb"],
        grantTypes: ["authorization_code"],
        responseTypes: ["code"],
        scopes: [],
      },
    });
    const clients = [PLAIN, BASE64ISH].map((c) => ({ ...c, redirect_uris: [`${CALLBACK}/gh`] }));
    decoding = await startOAuth2Upstream({ clients, basicCredentials: "decoded" });
    asWritten = await startOAuth2Upstream({ clients, basicCredentials: "as-written" });
  });

  after(async () => {
    await Promise.allSettled([decoding?.close(), asWritten?.close()]);
    await services?.teardown();
  });

  function connector(upstream: OAuth2Upstream, client: { client_id: string; client_secret: string }, encoding?: string): ConnectorConfig {
    const doc = {
      id: "gh",
      name: "GitHub-like",
      auth: {
        kind: "oauth2",
        authorizationUrl: upstream.authorizationUrl,
        tokenUrl: upstream.tokenUrl,
        clientId: client.client_id,
        clientSecret: "${env:SECRET}",
        ...(encoding ? { clientSecretBasicEncoding: encoding } : {}),
      },
      scopes: { user: ["read:user"] },
      defaultScopes: ["user"],
      api: { baseUrl: upstream.apiUrl },
      identity: { url: upstream.userUrl, subject: "id" },
    };
    return parseConnectorText("connectors/gh.yaml", stringify(doc), { SECRET: client.client_secret });
  }

  /** Signs in at the upstream and exchanges the code: the token request is where the client authenticates. */
  async function connect(config: ConnectorConfig): Promise<string> {
    const kind = kinds.for(config);
    assert.ok(isRedirectAuthorizer(kind));
    const ctx = await buildKindContext(services, { connector: config, appId: APP, upstreamScopes: upstreamScopesFor(config, []) });
    const { url, checks } = await kind.authorizationRequest(ctx);
    const page = await new TestBrowser().navigate(url, { stopAt: (next) => next.href.startsWith(CALLBACK) });
    assert.ok(page.stopped, `expected the callback, got ${page.status} at ${page.url.href}`);
    const grant = await kind.exchangeCode(ctx, page.url, checks);
    return grant.identity.subject;
  }

  async function refusedWithInvalidClient(config: ConnectorConfig, secret: string): Promise<void> {
    await assert.rejects(connect(config), (err: unknown) => {
      assert.ok(err instanceof UpstreamError, String(err));
      assert.match(err.description, /refused the broker's client credentials \(HTTP 401\)/);
      assert.ok(!`${err.message} ${err.detail ?? ""}`.includes(secret), "the secret appeared in an error");
      return true;
    });
  }

  it("by default, an id and secret with - . _ ~ are accepted by a server that decodes and by one that does not", async () => {
    assert.equal(await connect(connector(decoding, PLAIN)), String(OCTOCAT.id));
    assert.equal(await connect(connector(asWritten, PLAIN)), String(OCTOCAT.id));
  });

  it("full encoding (openid-client's) is refused by a server that does not decode: why it is not the default", async () => {
    assert.equal(await connect(connector(decoding, PLAIN, "full")), String(OCTOCAT.id));
    await refusedWithInvalidClient(connector(asWritten, PLAIN, "full"), PLAIN.client_secret);
  });

  it("a secret with + / = is encoded by default, which a decoding server needs", async () => {
    assert.equal(await connect(connector(decoding, BASE64ISH)), String(OCTOCAT.id));
    await refusedWithInvalidClient(connector(asWritten, BASE64ISH), BASE64ISH.client_secret);
  });

  it("encoding none sends such a secret as written, for the server that does not decode", async () => {
    assert.equal(await connect(connector(asWritten, BASE64ISH, "none")), String(OCTOCAT.id));
    await refusedWithInvalidClient(connector(decoding, BASE64ISH, "none"), BASE64ISH.client_secret);
  });

  it("an encoding the schema does not know is refused when the file is read", () => {
    assert.throws(() => connector(decoding, PLAIN, "percent"), /clientSecretBasicEncoding/);
  });
});
