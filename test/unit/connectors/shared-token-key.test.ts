/**
 * The key under which a client_credentials upstream token is shared by every
 * account of a connector app: the same token only for the same client at the
 * same token endpoint, server and scopes.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { createKindContext } from "../../../src/connectors/context.js";
import { sharedTokenKey } from "../../../src/connectors/kinds/client-credentials.js";
import { parseConnectorText } from "../../../src/connectors/loader.js";
import { CidrList } from "../../../src/net/cidr-list.js";

function contextAt(tokenUrl: string, scopes: string[] = ["read"]) {
  const connector = parseConnectorText(
    "connectors/catalog.yaml",
    stringify({ id: "catalog", name: "Catalog", auth: { kind: "client_credentials", tokenUrl, clientId: "broker", clientSecret: "s" } }),
    {},
  );
  return createKindContext({
    connector,
    credentials: { clientId: "broker", clientSecret: "s", source: "file" },
    issuer: "https://broker.example",
    upstreamScopes: scopes,
    allowPrivateHosts: new CidrList([]),
    fetch: () => Promise.reject(new Error("no requests")),
  });
}

describe("the shared client_credentials token key", () => {
  it("is the same for the same client, token endpoint and scopes, whatever their order", () => {
    assert.equal(
      sharedTokenKey(contextAt("https://a.example/token", ["read", "write"])),
      sharedTokenKey(contextAt("https://a.example/token", ["write", "read"])),
    );
  });

  it("differs between token endpoints: two brokers sharing a Redis with the same connector and client ids at different upstreams never share a token", () => {
    assert.notEqual(sharedTokenKey(contextAt("https://a.example/token")), sharedTokenKey(contextAt("https://b.example/token")));
  });

  it("differs between scopes", () => {
    assert.notEqual(sharedTokenKey(contextAt("https://a.example/token", ["read"])), sharedTokenKey(contextAt("https://a.example/token", ["write"])));
  });
});
