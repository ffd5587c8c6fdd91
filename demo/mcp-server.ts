/**
 * "Acme Files", the demo's MCP server: a Model Context Protocol server
 * (official SDK, Streamable HTTP, stateless) whose tools read the signed-in
 * user's Acme Cloud files, with the broker in front of it as its
 * authorization server and token vault (docs/agents.md walks through it).
 *
 * What it shows:
 * - it is a protected resource (RFC 9728): its metadata names the broker,
 *   and its 401s point to that metadata, so an MCP client discovers where to
 *   authorize by itself;
 * - it accepts only broker access tokens issued for its own URI (RFC 8707
 *   `aud`), verified locally against the broker's JWKS
 *   (src/resource-server/), with the scope each tool needs (a tool the
 *   token's scope does not cover answers 403 insufficient_scope naming it);
 * - it never holds an upstream credential: a tool exchanges the agent's
 *   token at the broker (RFC 8693, acting as itself) for a proxy token bound
 *   to the user's account at the connector the tool needs, and calls Acme
 *   Cloud through the broker's proxy;
 * - when the user has not connected that service, the broker's answer
 *   carries a connect URL, which the tool hands the agent as MCP's URL-mode
 *   elicitation (`URLElicitationRequiredError`); once the user has connected,
 *   the same call succeeds.
 */
import { createServer, type Server } from "node:http";
import express, { type Request, type Response } from "express";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";
import { InvalidTokenError } from "@modelcontextprotocol/sdk/server/auth/errors.js";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { UrlElicitationRequiredError, type ElicitRequestURLParams } from "@modelcontextprotocol/sdk/types.js";
import { brokerTokenVerifier, protectedResourceMetadata, protectedResourceMetadataUrl } from "../src/resource-server/index.js";

export interface DemoMcpServerOptions {
  brokerUrl: string;
  /** The MCP server's own registration at the broker (it exchanges tokens as itself). */
  clientId: string;
  clientSecret: string;
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** The connector each tool reads from. */
  connectors: { files: string; keyFiles: string };
}

export interface DemoMcpServer {
  /** The MCP endpoint, which is also the resource URI tokens are issued for. */
  url: string;
  close(): Promise<void>;
}

/** The scope every tool needs; the broker's resource registration lists it. */
export const MCP_FILES_SCOPE = "files:read";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/** What a tool's broker call failed with, as the broker said it. */
class BrokerRefusal extends Error {
  constructor(
    readonly status: number,
    readonly body: { error?: string; error_description?: string; elicitations?: ElicitRequestURLParams[] },
  ) {
    super(body.error_description ?? body.error ?? `the broker answered ${status}`);
  }
}

export async function startDemoMcpServer(options: DemoMcpServerOptions): Promise<DemoMcpServer> {
  const host = options.host ?? "127.0.0.1";
  const http: Server = createServer();
  await new Promise<void>((resolve) => http.listen(options.port, host, resolve));
  const port = (http.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}/mcp`;
  const metadataUrl = protectedResourceMetadataUrl(url);
  const metadataPath = new URL(metadataUrl).pathname;

  const verifier = brokerTokenVerifier({ issuer: options.brokerUrl, resource: url, invalidToken: (message) => new InvalidTokenError(message) });
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`).toString("base64")}`;

  /** The agent's token exchanged for a proxy token bound to the user's account at `connector` (RFC 8693). */
  async function proxyTokenFor(auth: AuthInfo, connector: string): Promise<string> {
    const answer = await fetch(`${options.brokerUrl}/oauth/token`, {
      method: "POST",
      headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: TOKEN_EXCHANGE,
        subject_token: auth.token,
        subject_token_type: ACCESS_TOKEN_TYPE,
        resource: `${options.brokerUrl}/v1/proxy`,
        audience: connector,
        scope: "proxy",
      }),
    });
    const body = (await answer.json()) as { access_token?: string; error?: string };
    if (!answer.ok || !body.access_token) throw new BrokerRefusal(answer.status, body);
    return body.access_token;
  }

  /** GET a path of the connector's API through the broker's proxy, for the token's user. */
  async function viaProxy(auth: AuthInfo, connector: string, path: string): Promise<unknown> {
    const token = await proxyTokenFor(auth, connector);
    const answer = await fetch(`${options.brokerUrl}/v1/proxy${path}`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await answer.json()) as Record<string, unknown>;
    if (!answer.ok) throw new BrokerRefusal(answer.status, body);
    return body;
  }

  /** A tool's answer, or the broker's connect URL as a URL-mode elicitation. */
  async function toolResult(auth: AuthInfo | undefined, connector: string, path: string) {
    if (!auth) throw new Error("no token: the transport runs behind requireBearerAuth");
    try {
      const body = await viaProxy(auth, connector, path);
      return { content: [{ type: "text" as const, text: JSON.stringify(body, null, 2) }] };
    } catch (err) {
      if (err instanceof BrokerRefusal && err.body.elicitations?.length) throw new UrlElicitationRequiredError(err.body.elicitations, err.message);
      if (err instanceof BrokerRefusal) return { isError: true, content: [{ type: "text" as const, text: `${err.body.error}: ${err.message}` }] };
      throw err;
    }
  }

  /** One MCP server per request (stateless Streamable HTTP): nothing is shared between agents. */
  function mcpServer(): McpServer {
    const server = new McpServer({ name: "acme-files", version: "1.0.0" });
    server.registerTool(
      "list_files",
      { title: "List my Acme Cloud files", description: "The signed-in user's files at Acme Cloud (through their Acme Cloud account)" },
      async (extra) => toolResult(extra.authInfo, options.connectors.files, "/files"),
    );
    server.registerTool(
      "list_files_with_key",
      { title: "List my Acme Cloud files (API key)", description: "The same files, read with the user's Acme Cloud API key" },
      async (extra) => toolResult(extra.authInfo, options.connectors.keyFiles, "/files"),
    );
    return server;
  }

  const app = express();
  app.get(metadataPath, (_req, res) => {
    res.json(protectedResourceMetadata({ issuer: options.brokerUrl, resource: url, scopes: [MCP_FILES_SCOPE], name: "Acme Files (demo MCP server)" }));
  });
  const auth = requireBearerAuth({ verifier, requiredScopes: [MCP_FILES_SCOPE], resourceMetadataUrl: metadataUrl, expectedResource: new URL(url) });
  app.post("/mcp", express.json({ limit: "1mb" }), auth, async (req: Request, res: Response) => {
    const server = mcpServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on("close", () => void Promise.all([transport.close(), server.close()]));
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  // Stateless: no session to resume or end.
  app.all("/mcp", auth, (_req, res) => {
    res
      .status(405)
      .set("Allow", "POST")
      .json({ jsonrpc: "2.0", error: { code: -32000, message: "Method not allowed." }, id: null });
  });
  http.on("request", app);

  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
