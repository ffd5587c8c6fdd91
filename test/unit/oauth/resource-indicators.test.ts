/**
 * The pure rules of resource indicators (RFC 8707) and protected resource
 * metadata (RFC 9728): which URIs may be resources, the scopes a token for
 * a resource may carry, where a resource's metadata lives.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { proxyResource, resourceUriProblem } from "../../../src/oauth/resources.js";
import { checkSameResource, resourceScopes } from "../../../src/oauth/resource-indicators.js";
import { protectedResourceMetadataUrl } from "../../../src/resource-server/index.js";

const MCP = { uri: "https://mcp.example.com/mcp", name: "MCP", scopes: ["tools:read", "tools:write"], appId: null, builtIn: false };
const PROXY = proxyResource("https://broker.example.com");

describe("resourceUriProblem (RFC 8707 §2)", () => {
  it("accepts absolute https URIs, and http on loopback hosts", () => {
    for (const uri of ["https://mcp.example.com", "https://mcp.example.com/mcp?x=1", "http://127.0.0.1:3000/mcp", "http://[::1]/", "http://localhost:8080"])
      assert.equal(resourceUriProblem(uri), undefined, uri);
  });

  it("refuses a relative URI, a fragment, http elsewhere, other schemes, spaces and overlong URIs", () => {
    for (const [uri, problem] of [
      ["/mcp", /not an absolute URI/],
      ["mcp.example.com/mcp", /not an absolute URI/],
      ["https://mcp.example.com/mcp#", /fragment/],
      ["https://mcp.example.com/#a", /fragment/],
      ["http://mcp.example.com/", /must use https/],
      ["http://127.0.0.1.example.com/", /must use https/],
      ["urn:example:mcp", /must use https/],
      ["https://mcp.example.com/a b", /space/],
      [" https://mcp.example.com/", /space/],
      [`https://mcp.example.com/${"a".repeat(600)}`, /longer than/],
    ] as const)
      assert.match(resourceUriProblem(uri) ?? "", problem, uri);
  });
});

describe("resourceScopes", () => {
  const app = { scopes: ["openid", "email", "offline_access", "proxy"] };

  it("no scope asked: all the resource's scopes, no identity scope", () => {
    assert.deepEqual(resourceScopes(app, MCP, []), ["tools:read", "tools:write"]);
    assert.deepEqual(resourceScopes(app, PROXY, []), ["proxy"]);
  });

  it("the resource's scopes need no registration; identity scopes do", () => {
    assert.deepEqual(resourceScopes({ scopes: [] }, MCP, ["tools:write"]), ["tools:write"]);
    assert.deepEqual(resourceScopes(app, MCP, ["openid", "offline_access", "tools:read"]), ["openid", "offline_access", "tools:read"]);
    assert.throws(() => resourceScopes(app, MCP, ["profile"]), /not registered for scope "profile"/);
  });

  it("refuses another resource's scopes and broker scopes, naming the scope", () => {
    assert.throws(() => resourceScopes(app, MCP, ["tools:read", "proxy"]), /scope "proxy" is not a scope of resource/);
    assert.throws(() => resourceScopes(app, MCP, ["gh:repo.read"]), /scope "gh:repo.read"/);
  });

  it("the proxy: the app's registration applies; connector scopes stay allowed", () => {
    assert.deepEqual(resourceScopes(app, PROXY, ["proxy", "gh:repo.read"]), ["proxy", "gh:repo.read"]);
    assert.throws(() => resourceScopes({ scopes: ["openid"] }, PROXY, []), /not registered for scope "proxy"/);
    assert.throws(() => resourceScopes(app, PROXY, ["accounts:read"]), /"accounts:read" is not a scope of resource/);
  });
});

describe("checkSameResource (RFC 8707 §2.2)", () => {
  it("allows the grant's resource or none; refuses any other", () => {
    checkSameResource(MCP.uri, undefined, "refresh token");
    checkSameResource(MCP.uri, MCP.uri, "refresh token");
    checkSameResource(null, undefined, "authorization code");
    assert.throws(() => checkSameResource(MCP.uri, `${MCP.uri}/`, "refresh token"), { code: "invalid_target" });
    assert.throws(() => checkSameResource(null, MCP.uri, "authorization code"), /issued without a resource/);
  });
});

describe("protectedResourceMetadataUrl (RFC 9728 §3.1)", () => {
  it("puts the well-known segment between host and path", () => {
    assert.equal(protectedResourceMetadataUrl("https://mcp.example.com/mcp"), "https://mcp.example.com/.well-known/oauth-protected-resource/mcp");
    assert.equal(protectedResourceMetadataUrl("https://mcp.example.com"), "https://mcp.example.com/.well-known/oauth-protected-resource");
    assert.equal(protectedResourceMetadataUrl("http://127.0.0.1:3000/a/b"), "http://127.0.0.1:3000/.well-known/oauth-protected-resource/a/b");
  });
});
