/**
 * The connector fields for what real providers send and take beyond the
 * RFCs (docs/connectors.md, "What real providers need"): each loads with
 * its defaults, and each misuse is refused with one line naming the field.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { parseConnectorText } from "../../../src/connectors/loader.js";
import { ConnectorConfigError } from "../../../src/connectors/errors.js";
import { withDeclaredLeniency } from "../../../src/connectors/kinds/token-response.js";

const FILE = "connectors/acme.yaml";
const ENV = { ACME_CLIENT_ID: "acme-id", ACME_CLIENT_SECRET: "acme-secret" };

/** A valid oauth2 connector, changed by `change`. */
function acme(change: (doc: Record<string, any>) => void = () => {}): Record<string, any> {
  const doc: Record<string, any> = {
    id: "acme",
    name: "Acme",
    auth: {
      kind: "oauth2",
      authorizationUrl: "https://acme.example/oauth/authorize",
      tokenUrl: "https://acme.example/oauth/token",
      clientId: "${env:ACME_CLIENT_ID}",
      clientSecret: "${env:ACME_CLIENT_SECRET}",
    },
    api: { baseUrl: "https://api.acme.example", credentials: "bearer" },
    identity: { url: "https://api.acme.example/me", subject: "id" },
  };
  change(doc);
  return doc;
}

const parse = (doc: unknown) => parseConnectorText(FILE, stringify(doc), ENV);

function refused(doc: unknown, field: string, problem: RegExp): void {
  assert.throws(
    () => parse(doc),
    (err: unknown) => {
      assert.ok(err instanceof ConnectorConfigError, `expected a ConnectorConfigError, got ${String(err)}`);
      assert.equal(err.field, field, err.message);
      assert.match(err.message, problem);
      assert.ok(!err.message.includes("\n"), `one line expected, got ${JSON.stringify(err.message)}`);
      return true;
    },
  );
}

describe("auth.tokenResponse", () => {
  it("loads with its defaults, token types lower-cased", () => {
    const connector = parse(acme((d) => (d.auth.tokenResponse = { bearerTokenTypes: ["Bot"] })));
    assert.ok(connector.auth.kind === "oauth2");
    assert.deepEqual(connector.auth.tokenResponse, { bearerTokenTypes: ["bot"], tokenTypeOptional: false, scopeList: false });
    const plain = parse(acme());
    assert.ok(plain.auth.kind === "oauth2");
    assert.equal(plain.auth.tokenResponse, undefined, "absent: no leniency");
  });
  it("refuses bearer and DPoP as bearer token types", () => {
    refused(
      acme((d) => (d.auth.tokenResponse = { bearerTokenTypes: ["DPoP"] })),
      "auth.tokenResponse.bearerTokenTypes[0]",
      /DPoP never/,
    );
    refused(
      acme((d) => (d.auth.tokenResponse = { bearerTokenTypes: ["bot", "bearer"] })),
      "auth.tokenResponse.bearerTokenTypes[1]",
      /bearer is always taken/,
    );
  });
  it("refuses a token type that is not a token", () =>
    refused(
      acme((d) => (d.auth.tokenResponse = { bearerTokenTypes: ["bot user"] })),
      "auth.tokenResponse.bearerTokenTypes[0]",
      /token_type value/,
    ));
  it("refuses an unknown field", () =>
    refused(
      acme((d) => (d.auth.tokenResponse = { scopeArray: true })),
      "auth.tokenResponse.scopeArray",
      /unknown field/,
    ));
});

describe("withDeclaredLeniency rewrites only what the connector declares", () => {
  const leniency = { bearerTokenTypes: ["bot"], tokenTypeOptional: true, scopeList: true };
  const answer = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", "content-length": "9999" } });
  const read = async (response: Response) => (await response.json()) as Record<string, unknown>;

  it("bot becomes bearer, a missing token_type bearer, a scope list a space-separated string", async () => {
    assert.equal((await read(await withDeclaredLeniency(answer({ access_token: "a", token_type: "BOT" }), leniency))).token_type, "bearer");
    assert.equal((await read(await withDeclaredLeniency(answer({ access_token: "a" }), leniency))).token_type, "bearer");
    const listed = await withDeclaredLeniency(answer({ access_token: "a", token_type: "Bearer", scope: ["read", "write"] }), leniency);
    assert.equal((await read(listed)).scope, "read write");
    assert.equal(listed.headers.get("content-length"), null, "the upstream's length is not the rewritten body's");
  });
  it("leaves what is not declared: another token type, a list of non-strings, an error, a response without a token", async () => {
    const none = { bearerTokenTypes: [], tokenTypeOptional: false, scopeList: false };
    assert.equal((await read(await withDeclaredLeniency(answer({ access_token: "a", token_type: "mac" }), leniency))).token_type, "mac");
    assert.equal((await read(await withDeclaredLeniency(answer({ access_token: "a", token_type: "bot" }), none))).token_type, "bot");
    assert.equal("token_type" in (await read(await withDeclaredLeniency(answer({ access_token: "a" }), none))), false);
    assert.deepEqual((await read(await withDeclaredLeniency(answer({ access_token: "a", scope: ["read", 1] }), leniency))).scope, ["read", 1]);
    assert.equal("token_type" in (await read(await withDeclaredLeniency(answer({ error: "invalid_grant" }), leniency))), false);
    assert.equal((await withDeclaredLeniency(answer({ error: "x" }, 400), leniency)).status, 400);
  });
});

describe("identity.method and identity.body", () => {
  it("GET by default; a POST with a GraphQL body (braces are not placeholders), with null, or with none", () => {
    assert.equal(parse(acme()).identity?.method, "GET");
    const graphql = parse(acme((d) => Object.assign(d.identity, { method: "POST", body: { query: "{ viewer { id } }" } })));
    assert.deepEqual(graphql.identity?.body, { query: "{ viewer { id } }" });
    assert.equal(parse(acme((d) => Object.assign(d.identity, { method: "POST", body: null }))).identity?.body, null);
    const bare = parse(acme((d) => (d.identity.method = "POST")));
    assert.equal(bare.identity?.body, undefined);
  });
  it("refuses a body without POST", () =>
    refused(
      acme((d) => (d.identity.body = { query: "{ viewer { id } }" })),
      "identity.body",
      /only with identity.method: POST/,
    ));
  it("refuses a method other than GET or POST", () =>
    refused(
      acme((d) => (d.identity.method = "PUT")),
      "identity.method",
      /GET, POST/,
    ));
  it("refuses a method without identity.url", () =>
    refused(
      acme((d) => {
        d.auth.kind = "oidc";
        d.auth.issuer = "https://acme.example";
        delete d.auth.authorizationUrl;
        delete d.auth.tokenUrl;
        d.identity = { method: "POST" };
      }),
      "identity.method",
      /needs identity.url/,
    ));
  it("placeholders are still refused elsewhere", () =>
    refused(
      acme((d) => (d.identity.url = "https://api.acme.example/{viewer}")),
      "identity.url",
      /unknown placeholder \{viewer\}/,
    ));
});

describe("auth.revocation.tokenIn and {token}", () => {
  const revocation = (fields: Record<string, unknown>) => acme((d) => (d.auth.revocation = { url: "https://acme.example/revoke", ...fields }));

  it("body by default; query, bearer and url load", () => {
    const tokenIn = (doc: unknown) => {
      const connector = parse(doc);
      return connector.auth.kind === "oauth2" ? connector.auth.revocation?.tokenIn : undefined;
    };
    assert.equal(tokenIn(revocation({})), "body");
    assert.equal(tokenIn(revocation({ tokenIn: "query" })), "query");
    assert.equal(tokenIn(revocation({ tokenIn: "bearer", token: "access_token", clientAuth: "none" })), "bearer");
    assert.equal(tokenIn(revocation({ method: "DELETE", url: "https://acme.example/tokens/{token}", tokenIn: "url" })), "url");
  });
  it("refuses a bearer token with Basic client authentication, or one that may be a refresh token", () => {
    refused(revocation({ tokenIn: "bearer", token: "access_token" }), "auth.revocation.clientAuth", /both use the Authorization header/);
    refused(revocation({ tokenIn: "bearer", clientAuth: "none" }), "auth.revocation.token", /must be access_token/);
  });
  it("refuses tokenIn url without {token}, and {token} without tokenIn url", () => {
    refused(revocation({ tokenIn: "url" }), "auth.revocation.url", /needs \{token\}/);
    refused(revocation({ url: "https://acme.example/tokens/{token}" }), "auth.revocation.tokenIn", /must be url/);
  });
  it("refuses an unknown tokenIn", () => refused(revocation({ tokenIn: "header" }), "auth.revocation.tokenIn", /body, query, bearer, url/));
  it("{token} loads in identity.url, and is refused elsewhere", () => {
    assert.equal(parse(acme((d) => (d.identity.url = "https://api.acme.example/tokens/{token}"))).identity?.url, "https://api.acme.example/tokens/{token}");
    refused(
      acme((d) => (d.api.baseUrl = "https://api.acme.example/{token}")),
      "api.baseUrl",
      /\{token\} is only filled in identity.url and auth.revocation.url/,
    );
  });
  it("refuses {token} in identity.url for a kind whose accounts have no access token", () =>
    refused(
      {
        id: "acme",
        name: "Acme",
        auth: { kind: "api_key", fields: [{ name: "key", label: "Key", secret: true }] },
        api: { baseUrl: "https://api.acme.example" },
        identity: { url: "https://api.acme.example/keys/{token}", subject: "id" },
      },
      "identity.url",
      /api_key accounts have none/,
    ));
});
