/**
 * src/resource-server/: a resource server (here an express app with the MCP
 * SDK's requireBearerAuth, as an MCP server runs it) verifies broker tokens
 * issued for its own URI against a real broker's JWKS, and serves RFC 9728
 * metadata naming the broker.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Server } from "node:http";
import express from "express";
import { SignJWT, generateKeyPair } from "jose";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";
import { InvalidTokenError } from "@modelcontextprotocol/sdk/server/auth/errors.js";
import { issueAccessToken, issueIdToken } from "../../../src/oauth/tokens.js";
import { BrokerTokenError, brokerTokenVerifier, protectedResourceMetadata, protectedResourceMetadataUrl } from "../../../src/resource-server/index.js";
import { startTestBroker, type TestBroker } from "../../support/broker.js";

describe("resource-server helper", () => {
  let broker: TestBroker;
  let server: Server;
  let resource: string;
  let metadataUrl: string;
  const client = { id: "agent_rs", accessTokenTtl: 600, idTokenTtl: 300 };

  before(async () => {
    broker = await startTestBroker();
    const app = express();
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    const port = (server.address() as { port: number }).port;
    resource = `http://127.0.0.1:${port}/mcp`;
    metadataUrl = protectedResourceMetadataUrl(resource);
    const verifier = brokerTokenVerifier({ issuer: broker.url, resource, invalidToken: (message) => new InvalidTokenError(message) });
    app.get(new URL(metadataUrl).pathname, (_req, res) => {
      res.json(protectedResourceMetadata({ issuer: broker.url, resource, scopes: ["files:read"], name: "Files" }));
    });
    app.post("/mcp", requireBearerAuth({ verifier, requiredScopes: ["files:read"], resourceMetadataUrl: metadataUrl }), (req, res) => {
      res.json({ auth: (req as unknown as { auth: unknown }).auth });
    });
  });

  after(async () => {
    server?.closeAllConnections();
    server?.close();
    await broker?.stop();
  });

  const issue = (audience: string, scope = "files:read", extra: { actor?: { sub: string; client_id: string } } = {}) =>
    issueAccessToken(broker.services, { client, subject: "acc_rs", accountId: "acc_rs", connectorId: "acme", scope, audience, ...extra });

  const call = (token?: string) => fetch(resource, { method: "POST", headers: token ? { authorization: `Bearer ${token}` } : {} });

  it("the metadata URL inserts the well-known path between host and path (RFC 9728 §3.1), and names the broker", async () => {
    assert.equal(protectedResourceMetadataUrl("https://mcp.example.com/mcp"), "https://mcp.example.com/.well-known/oauth-protected-resource/mcp");
    assert.equal(protectedResourceMetadataUrl("https://mcp.example.com/"), "https://mcp.example.com/.well-known/oauth-protected-resource");
    const metadata = (await (await fetch(metadataUrl)).json()) as Record<string, unknown>;
    assert.deepEqual(metadata, {
      resource,
      authorization_servers: [broker.url],
      scopes_supported: ["files:read"],
      bearer_methods_supported: ["header"],
      resource_name: "Files",
    });
  });

  it("accepts a broker token for this resource and hands the handler who it is for", async () => {
    const actor = { sub: "mcp_app", client_id: "mcp_app" };
    const { accessToken, claims } = await issue(resource, "files:read openid", { actor });
    const response = await call(accessToken);
    assert.equal(response.status, 200);
    const { auth } = (await response.json()) as { auth: Record<string, unknown> };
    assert.equal(auth.clientId, client.id);
    assert.deepEqual(auth.scopes, ["files:read", "openid"]);
    assert.equal(auth.expiresAt, claims.exp);
    assert.equal(auth.resource, resource);
    assert.deepEqual(auth.extra, { subject: "acc_rs", account: "acc_rs", connector: "acme", act: actor });
  });

  it("refuses a token for another resource, for the broker itself, or the proxy (RFC 8707), with the metadata URL in the challenge", async () => {
    for (const audience of ["https://other.example.com/mcp", broker.url, `${broker.url}/v1/proxy`]) {
      const { accessToken } = await issue(audience);
      const response = await call(accessToken);
      assert.equal(response.status, 401, audience);
      const challenge = response.headers.get("www-authenticate") ?? "";
      assert.match(challenge, /error="invalid_token"/);
      assert.match(challenge, /another resource/);
      assert.ok(challenge.includes(`resource_metadata="${metadataUrl}"`), challenge);
    }
  });

  it("refuses an ID token, a token signed by another key, and no token", async () => {
    const idToken = await issueIdToken(broker.services, {
      client,
      account: { id: "acc_rs", connectorId: "acme", hostname: "", profile: {} },
      scope: "openid",
    });
    assert.equal((await call(idToken)).status, 401, "an ID token is not an access token (typ)");
    const { privateKey } = await generateKeyPair("ES256");
    const forged = await new SignJWT({ client_id: client.id, scope: "files:read" })
      .setProtectedHeader({ alg: "ES256", kid: "not-the-brokers", typ: "at+jwt" })
      .setIssuer(broker.url)
      .setAudience(resource)
      .setSubject("acc_rs")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(privateKey);
    assert.equal((await call(forged)).status, 401, "a key the broker does not publish");
    const bare = await call();
    assert.equal(bare.status, 401);
    assert.ok((bare.headers.get("www-authenticate") ?? "").includes(`resource_metadata="${metadataUrl}"`));
  });

  it("refuses an expired token, and one without the scope the route needs (403 insufficient_scope)", async () => {
    const expired = await issueAccessToken(broker.services, { client, subject: "acc_rs", scope: "files:read", audience: resource, ttl: -120 });
    const response = await call(expired.accessToken);
    assert.equal(response.status, 401);
    assert.match(response.headers.get("www-authenticate") ?? "", /expired/);
    const { accessToken } = await issue(resource, "files:write");
    const narrow = await call(accessToken);
    assert.equal(narrow.status, 403);
    assert.match(narrow.headers.get("www-authenticate") ?? "", /insufficient_scope/);
  });

  it("without an error factory, refusals are BrokerTokenError", async () => {
    const verifier = brokerTokenVerifier({ issuer: broker.url, resource });
    const { accessToken } = await issue("https://other.example.com/mcp");
    await assert.rejects(verifier.verifyAccessToken(accessToken), (err: unknown) => err instanceof BrokerTokenError && /another resource/.test(err.message));
  });
});
