/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
 * MCP authorization 2025-11-25): a client_id that is an https URL, whose
 * document a real HTTPS server on 127.0.0.1 serves under a CA of the test's
 * own (BROKER_OUTBOUND_CA_FILE; the tests' BROKER_ALLOW_PRIVATE_HOSTS lets
 * the outbound client reach loopback). Covers the whole flow with
 * PKCE, every way a document is refused (at the authorization endpoint: an
 * error page, never a redirect; at the token endpoint: invalid_client), and
 * caching by the document's headers, counted at the server.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:https";
import { createServer as createPlainServer } from "node:http";
import type { AddressInfo } from "node:net";
import * as client from "openid-client";
import { connectTestAccount, startBrokerWithGitHubLike, TEST_APP_REDIRECT } from "../../support/flow.js";
import type { TestBroker } from "../../support/broker.js";
import type { OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { TestBrowser } from "../../support/browser.js";
import { makeTestCertificates, type TestCertificates } from "../../support/tls.js";
import { ClientMetadataDocuments, MAX_DOCUMENT_BYTES } from "../../../src/apps/metadata-documents.js";
import { AddressPolicy } from "../../../src/net/address-policy.js";
import { Outbound } from "../../../src/net/outbound.js";

const insecure = { execute: [client.allowInsecureRequests] };
const ADMIN_TOKEN = "operator-admin-token-0123456789abcdef";

interface Served {
  status?: number;
  headers?: Record<string, string>;
  body: string | ((url: string) => string);
  /** Sent in chunks without Content-Length (the size cap must hold on the stream too). */
  chunked?: boolean;
}

describe("client ID metadata documents", () => {
  let setup: Awaited<ReturnType<typeof startBrokerWithGitHubLike>>;
  let broker: TestBroker;
  let upstream: OAuth2Upstream;
  let documents: Server;
  let certificates: TestCertificates;
  let origin: string;
  const served = new Map<string, Served>();
  const fetches = new Map<string, number>();
  let nextUser = 500;

  /** Serves `document` at a new path and returns its URL (the client_id). */
  function serve(name: string, document: Partial<Served> & { body?: Served["body"] } = {}): string {
    const url = `${origin}/clients/${name}.json`;
    served.set(`/clients/${name}.json`, {
      headers: { "content-type": "application/json", "cache-control": "no-store" },
      body: (id) =>
        JSON.stringify({ client_id: id, client_name: "Agent Smith", redirect_uris: [TEST_APP_REDIRECT], grant_types: ["authorization_code", "refresh_token"] }),
      ...document,
    });
    return url;
  }
  const json = (value: unknown) => JSON.stringify(value);

  async function authorize(clientId: string, extra: Record<string, string> = {}): Promise<Response> {
    const params = new URLSearchParams({
      client_id: clientId,
      redirect_uri: TEST_APP_REDIRECT,
      response_type: "code",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
      connector: "gh",
      ...extra,
    });
    return fetch(`${broker.url}/oauth/authorize?${params}`, { redirect: "manual" });
  }

  /** The authorization endpoint refused the client on its page, without redirecting to any URI. */
  async function assertRefusedOnPage(res: Response, code: string, words: RegExp): Promise<void> {
    const body = await res.text();
    assert.equal(res.status, 400, body);
    assert.equal(res.headers.get("location"), null);
    assert.match(body, new RegExp(`<code>${code}</code>`));
    assert.match(body, words);
  }

  async function tokenRequest(form: Record<string, string>, headers: Record<string, string> = {}) {
    const res = await fetch(`${broker.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(form),
    });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  }

  async function publicApp(clientId: string) {
    const config = await client.discovery(new URL(broker.url), clientId, undefined, client.None(), insecure);
    return { id: clientId, secret: "", config };
  }

  before(async () => {
    certificates = makeTestCertificates();
    documents = createServer({ key: certificates.key, cert: certificates.cert }, (req, res) => {
      const path = req.url ?? "/";
      fetches.set(path, (fetches.get(path) ?? 0) + 1);
      const doc = served.get(path);
      if (!doc) {
        res.writeHead(404).end();
        return;
      }
      const body = typeof doc.body === "function" ? doc.body(`${origin}${path}`) : doc.body;
      if (doc.chunked) {
        res.writeHead(doc.status ?? 200, doc.headers);
        for (let i = 0; i < body.length; i += 1000) res.write(body.slice(i, i + 1000));
        res.end();
        return;
      }
      res.writeHead(doc.status ?? 200, { ...doc.headers, "content-length": Buffer.byteLength(body) }).end(body);
    });
    await new Promise<void>((resolve) => documents.listen(0, "127.0.0.1", resolve));
    origin = `https://127.0.0.1:${(documents.address() as AddressInfo).port}`;
    setup = await startBrokerWithGitHubLike({ env: { BROKER_OUTBOUND_CA_FILE: certificates.caFile, BROKER_ADMIN_TOKEN: ADMIN_TOKEN } });
    ({ broker, upstream } = setup);
  });

  after(async () => {
    await setup?.stop();
    await new Promise((resolve) => documents?.close(resolve));
    certificates?.remove();
  });

  it("runs the code flow with PKCE for a client known only by its document, and keeps an App row for it", async () => {
    const clientId = serve("happy");
    upstream.setUser({ id: nextUser, login: `u${nextUser}`, email: `u${nextUser}@example.test`, name: "Agent User" });
    nextUser++;
    const connected = await connectTestAccount(await publicApp(clientId), "gh", "openid proxy offline_access");
    assert.ok(connected.tokens.access_token);
    assert.ok(connected.tokens.refresh_token, "refresh_token is a grant the document declares");
    const app = await broker.services.db.app.findUniqueOrThrow({ where: { id: clientId } });
    assert.equal(app.registration, "metadata_document");
    assert.equal(app.isPublic, true);
    assert.equal(app.tokenEndpointAuthMethod, "none");
    assert.equal(app.requirePkce, true);
    assert.equal(app.name, "Agent Smith");
    assert.deepEqual(app.redirectUris, [TEST_APP_REDIRECT]);
    assert.equal((await broker.services.db.account.findUniqueOrThrow({ where: { id: connected.accountId } })).appId, clientId);
    const audit = await broker.services.db.auditEvent.findMany({ where: { appId: clientId, action: "app.registered" } });
    assert.equal(audit.length, 1);
    // The refresh grant authenticates the client again (method none) through its document.
    const refreshed = await tokenRequest({ grant_type: "refresh_token", refresh_token: connected.tokens.refresh_token!, client_id: clientId });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  });

  it("shows the document's host beside its self-asserted client_name on the consent page", async () => {
    const clientId = serve("consent");
    const params = new URLSearchParams({
      client_id: clientId,
      redirect_uri: TEST_APP_REDIRECT,
      response_type: "code",
      scope: "proxy",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
    });
    const page = await new TestBrowser().navigate(`${broker.url}/oauth/authorize?${params}`);
    assert.equal(page.status, 200, page.body);
    assert.match(page.body, new RegExp(`<strong>Agent Smith \\(127\\.0\\.0\\.1:${new URL(origin).port}\\)</strong>`));
  });

  it("refuses a document whose client_id is not its own URL", async () => {
    const clientId = serve("mismatch", { body: json({ client_id: `${origin}/clients/other.json`, redirect_uris: [TEST_APP_REDIRECT] }) });
    await assertRefusedOnPage(await authorize(clientId), "invalid_client", /client metadata document at .*mismatch\.json names client_id .*not its own URL/);
    assert.equal(await broker.services.db.app.findUnique({ where: { id: clientId } }), null, "no App row for a refused document");
  });

  it("refuses a document without redirect_uris", async () => {
    await assertRefusedOnPage(await authorize(serve("no-redirects", { body: (id) => json({ client_id: id }) })), "invalid_client", /has no redirect_uris/);
  });

  it("refuses a document with a redirect URI no app may have (an http non-loopback one)", async () => {
    const clientId = serve("bad-redirect", { body: (id) => json({ client_id: id, redirect_uris: ["http://agent.example.com/cb"] }) });
    await assertRefusedOnPage(
      await authorize(clientId, { redirect_uri: "http://agent.example.com/cb" }),
      "invalid_client",
      /invalid redirect URI.*must use https/,
    );
  });

  it("refuses a redirect_uri the document does not list, on the page (no open redirector)", async () => {
    await assertRefusedOnPage(
      await authorize(serve("other-redirect"), { redirect_uri: "https://attacker.example/cb" }),
      "invalid_redirect_uri",
      /not registered/,
    );
  });

  it("refuses a client_id URL that is not https, without fetching anything", async () => {
    const before = [...fetches.values()].reduce((a, b) => a + b, 0);
    await assertRefusedOnPage(await authorize("http://agent.example.com/client.json"), "invalid_client", /must be an https URL/);
    // Not even to an address BROKER_ALLOW_PRIVATE_HOSTS opens: the document server answers http there too.
    await assertRefusedOnPage(await authorize(origin.replace("https:", "http:") + "/clients/happy.json"), "invalid_client", /must be an https URL/);
    await assertRefusedOnPage(await authorize("https://agent.example.com/"), "invalid_client", /must have a path/);
    await assertRefusedOnPage(await authorize("https://agent.example.com/a/../client.json"), "invalid_client", /normalised form/);
    assert.equal(
      [...fetches.values()].reduce((a, b) => a + b, 0),
      before,
    );
  });

  it("refuses a document larger than the cap, with or without Content-Length", async () => {
    const big = (id: string) => json({ client_id: id, redirect_uris: [TEST_APP_REDIRECT], padding: "x".repeat(MAX_DOCUMENT_BYTES) });
    await assertRefusedOnPage(await authorize(serve("big", { body: big })), "invalid_client", /larger than 5120 bytes/);
    await assertRefusedOnPage(await authorize(serve("big-chunked", { body: big, chunked: true })), "invalid_client", /larger than 5120 bytes/);
  });

  it("refuses a document that is not served as JSON, is not JSON, or redirects", async () => {
    await assertRefusedOnPage(
      await authorize(serve("html", { headers: { "content-type": "text/html" } })),
      "invalid_client",
      /served as text\/html, not application\/json/,
    );
    await assertRefusedOnPage(await authorize(serve("broken", { body: "{ not json" })), "invalid_client", /is not valid JSON/);
    await assertRefusedOnPage(
      await authorize(serve("moved", { status: 302, headers: { location: `${origin}/clients/happy.json` }, body: "" })),
      "invalid_client",
      /redirects are not followed/,
    );
  });

  it("refuses the client when its document cannot be fetched", async () => {
    await assertRefusedOnPage(await authorize(`${origin}/clients/missing.json`), "invalid_client", /answered HTTP 404/);
    const closed = createPlainServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await assertRefusedOnPage(await authorize(`https://127.0.0.1:${port}/client.json`), "invalid_client", /could not be fetched \(the connection/);
  });

  it("never fetches from an address the outbound policy refuses", async () => {
    await assertRefusedOnPage(await authorize("https://10.1.2.3/client.json"), "invalid_client", /may not connect to .*private or reserved address/);
    await assertRefusedOnPage(await authorize("https://169.254.169.254/latest/meta-data.json"), "invalid_client", /may not connect to/);
  });

  it("trusts a document's certificate only through the broker's trust store (BROKER_OUTBOUND_CA_FILE)", async () => {
    const outbound = new Outbound(new AddressPolicy(broker.services.config.allowPrivateHosts));
    try {
      const withoutCa = new ClientMetadataDocuments(broker.services.db, outbound, broker.services.clients);
      await assert.rejects(withoutCa.client(serve("untrusted")), /could not be fetched \(the connection or the TLS handshake failed\)/);
    } finally {
      await outbound.close();
    }
  });

  it("refuses a document that asks for a shared-secret method or private_key_jwt, or carries a secret", async () => {
    for (const method of ["client_secret_basic", "client_secret_post"]) {
      const clientId = serve(`secret-${method}`, {
        body: (id) => json({ client_id: id, redirect_uris: [TEST_APP_REDIRECT], token_endpoint_auth_method: method }),
      });
      await assertRefusedOnPage(await authorize(clientId), "invalid_client", /cannot carry a shared secret/);
    }
    const jwt = serve("pkjwt", {
      body: (id) => json({ client_id: id, redirect_uris: [TEST_APP_REDIRECT], token_endpoint_auth_method: "private_key_jwt", jwks_uri: `${origin}/jwks` }),
    });
    await assertRefusedOnPage(await authorize(jwt), "invalid_client", /private_key_jwt .* is not supported/);
    const carrying = serve("carries-secret", { body: (id) => json({ client_id: id, redirect_uris: [TEST_APP_REDIRECT], client_secret: "s3cret" }) });
    await assertRefusedOnPage(await authorize(carrying), "invalid_client", /contains a client_secret/);
    const grants = serve("cc", { body: (id) => json({ client_id: id, redirect_uris: [TEST_APP_REDIRECT], grant_types: ["client_credentials"] }) });
    await assertRefusedOnPage(await authorize(grants), "invalid_client", /grant_types must include authorization_code/);
  });

  it("refuses at the token endpoint (invalid_client) a client whose document became invalid, or that sends a secret", async () => {
    let method = "none";
    const clientId = serve("turns-bad", { body: (id) => json({ client_id: id, redirect_uris: [TEST_APP_REDIRECT], token_endpoint_auth_method: method }) });
    assert.equal((await authorize(clientId)).status, 302);
    const withSecret = await tokenRequest(
      { grant_type: "authorization_code", code: "x", code_verifier: "y".repeat(43) },
      {
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:guess`).toString("base64")}`,
      },
    );
    assert.equal(withSecret.status, 401);
    assert.equal(withSecret.body.error, "invalid_client");
    method = "client_secret_basic";
    const refused = await tokenRequest({ grant_type: "authorization_code", code: "x", code_verifier: "y".repeat(43), client_id: clientId });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error, "invalid_client");
    assert.match(refused.body.error_description!, /cannot carry a shared secret/);
  });

  it("caches a document by max-age and refetches a no-store one every time", async () => {
    const cached = serve("max-age", { headers: { "content-type": "application/json", "cache-control": "public, max-age=300" } });
    const uncached = serve("no-store");
    for (let i = 0; i < 3; i++) {
      assert.equal((await authorize(cached)).status, 302);
      assert.equal((await authorize(uncached)).status, 302);
    }
    assert.equal(fetches.get("/clients/max-age.json"), 1);
    assert.equal(fetches.get("/clients/no-store.json"), 3);
  });

  it("keeps the App row in step with the document when it is fetched again", async () => {
    let redirect = TEST_APP_REDIRECT;
    const clientId = serve("changes", { body: (id) => json({ client_id: id, client_name: `Agent at ${redirect}`, redirect_uris: [redirect] }) });
    assert.equal((await authorize(clientId)).status, 302);
    redirect = "http://127.0.0.1:9/other-callback";
    assert.equal((await authorize(clientId, { redirect_uri: redirect })).status, 302);
    const app = await broker.services.db.app.findUniqueOrThrow({ where: { id: clientId } });
    assert.deepEqual(app.redirectUris, [redirect]);
    assert.equal(app.name, `Agent at ${redirect}`);
    await assertRefusedOnPage(await authorize(clientId), "invalid_redirect_uri", /not registered/);
  });

  it("lets the operator see the app by its URL, registration metadata_document, also for a long URL", async () => {
    const clientId = serve(`long-${"x".repeat(200)}`);
    assert.equal((await authorize(clientId)).status, 302);
    const res = await fetch(`${broker.url}/admin/v1/apps/${encodeURIComponent(clientId)}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const view = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 200, JSON.stringify(view));
    assert.equal(view.client_id, clientId);
    assert.equal(view.registration, "metadata_document");
    assert.equal(view.type, "public");
  });

  it("says so in discovery", async () => {
    const metadata = (await (await fetch(`${broker.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    assert.equal(metadata.client_id_metadata_document_supported, true);
  });
});
