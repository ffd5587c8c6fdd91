/**
 * An AI agent, as the official MCP SDK's client builds it, in front of the
 * demo's MCP server ("Acme Files", demo/mcp-server.ts) with the broker as
 * its authorization server: the client discovers the broker from the MCP
 * server's 401 (RFC 9728), registers — by a client ID metadata document
 * served over https, and by RFC 7591 dynamic registration — authorizes with
 * PKCE and `resource` (the end user signs in in Chromium), calls a tool,
 * meets connect-on-demand (the tool needs a service the user has not
 * connected: MCP's URL-mode elicitation carries the broker's connect page),
 * the user connects in Chromium, and the same call then succeeds. The audit
 * shows who acted for whom. Screenshots go to test-results/e2e/.
 */
import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { Page } from "playwright-core";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { McpError, ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import { flushProxyAudit } from "../../src/proxy/router.js";
import { launchChromium, type TestChromium } from "../support/chromium.js";
import { chooseService, signInAtAcmeCloud, startTestDemo, type TestDemo } from "../support/demo.js";
import { makeTestCertificates, type TestCertificates } from "../support/tls.js";

/** Where the agent's browser lands after authorizing: a loopback listener, as a desktop agent runs one. */
class Callback {
  private server: HttpServer = createHttpServer((req, res) => {
    const url = new URL(req.url ?? "/", this.url);
    const code = url.searchParams.get("code");
    const waiter = this.waiter;
    this.waiter = undefined;
    res.writeHead(200, { "content-type": "text/html" }).end(`<h1>${code ? "You can close this window" : "Authorization failed"}</h1>`);
    if (waiter) code ? waiter.resolve(code) : waiter.reject(new Error(`no code: ${url.search}`));
  });
  private waiter: { resolve(code: string): void; reject(err: Error): void } | undefined;
  url = "";

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}/callback`;
  }

  /** The code of the next redirect to the callback. */
  nextCode(): Promise<string> {
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

/** The agent's OAuth state, in memory; the browser is driven by the test. */
class AgentAuth implements OAuthClientProvider {
  client: OAuthClientInformationMixed | undefined;
  held: OAuthTokens | undefined;
  verifier = "";
  authorizationUrl: URL | undefined;

  constructor(
    readonly redirectUrl: string,
    readonly clientMetadataUrl?: string,
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "Test agent",
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(client: OAuthClientInformationMixed) {
    this.client = client;
  }
  tokens() {
    return this.held;
  }
  saveTokens(tokens: OAuthTokens) {
    this.held = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

describe("an MCP agent (official SDK) authorizes at the broker, calls a tool, and connects a service on demand", () => {
  let demo: TestDemo;
  let chromium: TestChromium;
  let certificates: TestCertificates;
  let metadataServer: HttpsServer;
  let metadataUrl: string;
  let callback: Callback;

  before(async () => {
    certificates = makeTestCertificates();
    callback = new Callback();
    await callback.start();
    // The agent's client ID metadata document, over https under the test's own CA (which the broker is told to trust).
    metadataServer = createHttpsServer({ key: certificates.key, cert: certificates.cert }, (req, res) => {
      if (req.url !== "/agent.json") return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=300" });
      res.end(
        JSON.stringify({
          client_id: metadataUrl,
          client_name: "Test agent (metadata document)",
          redirect_uris: [callback.url],
          token_endpoint_auth_method: "none",
        }),
      );
    });
    await new Promise<void>((resolve) => metadataServer.listen(0, "127.0.0.1", resolve));
    metadataUrl = `https://127.0.0.1:${(metadataServer.address() as { port: number }).port}/agent.json`;
    [demo, chromium] = await Promise.all([
      startTestDemo({ env: { BROKER_OUTBOUND_CA_FILE: certificates.caFile, BROKER_DYNAMIC_REGISTRATION: "open" } }),
      launchChromium(),
    ]);
  });

  after(async () => {
    await chromium?.close();
    await demo?.teardown();
    metadataServer?.closeAllConnections();
    metadataServer?.close();
    callback?.close();
    certificates?.remove();
  });

  beforeEach(async () => {
    await chromium.context.clearCookies();
  });

  /** Connects the SDK client; on the first 401 the test plays the user in Chromium (the API-key service), then finishes the flow. */
  async function connectAgent(auth: AgentAuth, shot: string): Promise<{ client: Client; page: Page }> {
    const mcpUrl = new URL(demo.mcpServerUrl);
    const first = new StreamableHTTPClientTransport(mcpUrl, { authProvider: auth });
    const client = new Client({ name: "test-agent", version: "1.0.0" }, { capabilities: { elicitation: { url: {} } } });
    await assert.rejects(client.connect(first), UnauthorizedError);
    const authorizationUrl = auth.authorizationUrl;
    assert.ok(authorizationUrl, "the SDK asked to open the authorization URL");
    assert.equal(authorizationUrl.origin, new URL(demo.brokerUrl).origin, "discovered from the MCP server's protected resource metadata");
    assert.equal(authorizationUrl.searchParams.get("resource"), demo.mcpServerUrl, "RFC 8707: the token is asked for the MCP server");
    assert.equal(authorizationUrl.searchParams.get("code_challenge_method"), "S256");

    const page = await chromium.newPage();
    const code = callback.nextCode();
    await page.goto(authorizationUrl.href);
    await page.getByRole("heading", { name: "Connect an account" }).waitFor();
    await chromium.screenshot(page, `${shot}-01-picker`);
    await chooseService(page, "Acme Cloud (API key)");
    await page.getByLabel("API key").fill(demo.users[0]!.apiKey);
    await page.getByRole("button", { name: /Connect/ }).click();
    const allow = page.getByRole("button", { name: "Allow" });
    // A consent page names the agent (and, for a metadata document, its host) when the broker asks for one.
    if (await allow.isVisible({ timeout: 2_000 }).catch(() => false)) {
      await chromium.screenshot(page, `${shot}-02-consent`);
      await allow.click();
    }
    await first.finishAuth(await code);
    assert.ok(auth.held?.access_token, "the agent holds a broker access token");

    const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: auth });
    await client.connect(transport);
    return { client, page };
  }

  /** The tool's text, parsed. */
  function filesOf(result: Awaited<ReturnType<Client["callTool"]>>): { name: string }[] {
    assert.notEqual(result.isError, true, JSON.stringify(result));
    const text = (result.content as { type: string; text: string }[])[0]!.text;
    const body = JSON.parse(text) as { files: { name: string }[] };
    return body.files;
  }

  for (const registration of ["metadata document", "dynamic registration"] as const) {
    it(`registers by ${registration}, authorizes with PKCE and resource, calls a tool, connects on demand and retries`, async () => {
      const auth = new AgentAuth(callback.url, registration === "metadata document" ? metadataUrl : undefined);
      const shot = registration === "metadata document" ? "mcp-cimd" : "mcp-dcr";
      const { client, page } = await connectAgent(auth, shot);
      if (registration === "metadata document") assert.equal(auth.client?.client_id, metadataUrl, "the document's URL is the client id");
      else assert.match(String(auth.client?.client_id), /\S/, "a client id from the registration endpoint");

      const tools = await client.listTools();
      assert.deepEqual(tools.tools.map((t) => t.name).sort(), ["list_files", "list_files_with_key"]);

      // The service the user signed in with works at once.
      const withKey = filesOf(await client.callTool({ name: "list_files_with_key" }));
      assert.ok(withKey.length > 0);

      // Acme Cloud (OAuth) is not connected: the tool answers with MCP's URL-mode elicitation, pointing at the broker.
      const needed = await client.callTool({ name: "list_files" }).then(
        () => assert.fail("expected a URL elicitation"),
        (err: unknown) => err,
      );
      assert.ok(needed instanceof McpError, String(needed));
      assert.equal(needed.code, ErrorCode.UrlElicitationRequired);
      const elicitation = (needed.data as { elicitations: { mode: string; url: string; elicitationId: string; message: string }[] }).elicitations[0]!;
      assert.equal(elicitation.mode, "url");
      assert.ok(elicitation.url.startsWith(`${demo.brokerUrl}/`), elicitation.url);
      assert.match(elicitation.message, /Acme Cloud/);

      // The user opens it: the broker names the service (and who asks), and connects on the user's click.
      await page.goto(elicitation.url);
      await page.getByRole("heading", { name: "Connect your Acme Cloud account" }).waitFor();
      await chromium.screenshot(page, `${shot}-03-on-demand`);
      await page.getByRole("button", { name: "Connect", exact: true }).click();
      await page.waitForURL((url) => url.href.startsWith(demo.acmeCloudUrl));
      await signInAtAcmeCloud(page, "alice", "wonderland");
      await page.getByRole("button", { name: "Allow" }).click();
      await page.getByText(/return to your agent/i).waitFor();
      await chromium.screenshot(page, `${shot}-04-connected`);

      // The same call now succeeds, with the same files the key showed.
      const viaOAuth = filesOf(await client.callTool({ name: "list_files" }));
      assert.deepEqual(
        viaOAuth.map((f) => f.name),
        withKey.map((f) => f.name),
      );

      // The audit says who acted for whom: the user's connection, used by the agent's app, through the MCP server.
      await flushProxyAudit(demo.broker.services);
      const audited = await demo.broker.services.db.auditEvent.findMany({
        where: { action: "proxy.request", appId: String(auth.client?.client_id), connectorId: "acme-cloud" },
        orderBy: { at: "desc" },
      });
      assert.equal(audited.length, 1, "the one call through the connection made on demand");
      const last = audited[0]!;
      const detail = last.detail as { user?: string; act?: { client_id?: string } };
      assert.equal(detail.act?.client_id, demo.mcpClientId, "acting through the MCP server");
      assert.ok(detail.user, "for the user");
      await client.close();
      await page.close();
    });
  }
});
