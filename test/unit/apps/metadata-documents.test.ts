/**
 * The pure parts of Client ID Metadata Documents: which client_id URLs name
 * a document, how long a fetched document is reused by its caching headers
 * (within the bounds), and the checks of a document. The fetch itself is
 * tested against a real server in oauth/client-metadata-documents.test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  cacheMillis,
  checkMetadataDocumentUrl,
  isMetadataDocumentClientId,
  MAX_CACHE_MS,
  MIN_CACHE_MS,
  readDocument,
} from "../../../src/apps/metadata-documents.js";
const URL_ID = "https://agent.example.com/oauth/client.json";

const headers = (h: Record<string, string>) => new Headers({ date: new Date().toUTCString(), ...h });

describe("metadata document URLs", () => {
  it("are the client_ids that start with https:// or http://; the broker's own ids are not", () => {
    assert.equal(isMetadataDocumentClientId(URL_ID), true);
    assert.equal(isMetadataDocumentClientId("app_abc123"), false);
  });

  it("take https with a path, in normalised form", () => {
    assert.equal(checkMetadataDocumentUrl(URL_ID), undefined);
    assert.equal(checkMetadataDocumentUrl("https://agent.example.com/client.json?v=2"), undefined);
  });

  it("refuse http, no path, credentials, fragments, unnormalised forms and long URLs", () => {
    assert.match(checkMetadataDocumentUrl("http://agent.example.com/c.json")!, /must be an https URL/);
    // Not even to loopback: a development document is served over https under BROKER_OUTBOUND_CA_FILE.
    assert.match(checkMetadataDocumentUrl("http://127.0.0.1:8080/c.json")!, /must be an https URL/);
    assert.match(checkMetadataDocumentUrl("https://agent.example.com")!, /must have a path/);
    assert.match(checkMetadataDocumentUrl("https://agent.example.com/")!, /must have a path/);
    assert.match(checkMetadataDocumentUrl("https://u:p@agent.example.com/c.json")!, /user name or password/);
    assert.match(checkMetadataDocumentUrl("https://agent.example.com/c.json#x")!, /fragment/);
    assert.match(checkMetadataDocumentUrl("https://Agent.Example.com/c.json")!, /normalised form/);
    assert.match(checkMetadataDocumentUrl("https://agent.example.com:443/c.json")!, /normalised form/);
    assert.match(checkMetadataDocumentUrl("https://agent.example.com/./c.json")!, /normalised form/);
    assert.match(checkMetadataDocumentUrl(`https://agent.example.com/${"a".repeat(600)}`)!, /longer than/);
    assert.match(checkMetadataDocumentUrl("https://")!, /not a URL/);
  });
});

describe("how long a document is reused", () => {
  it("follows max-age and Expires within the bounds", () => {
    // Less the milliseconds since the response's Date header (its age).
    const byMaxAge = cacheMillis(URL_ID, 200, headers({ "cache-control": "max-age=600" }));
    assert.ok(byMaxAge > 599_000 && byMaxAge <= 600_000, String(byMaxAge));
    const expires = new Date(Date.now() + 3_600_000).toUTCString();
    const byExpires = cacheMillis(URL_ID, 200, headers({ expires }));
    assert.ok(byExpires > 3_590_000 && byExpires <= 3_600_000, String(byExpires));
  });

  it("is at least MIN_CACHE_MS and at most MAX_CACHE_MS when caching is allowed at all", () => {
    assert.equal(cacheMillis(URL_ID, 200, headers({ "cache-control": "max-age=5" })), MIN_CACHE_MS);
    assert.equal(cacheMillis(URL_ID, 200, headers({})), MIN_CACHE_MS);
    assert.equal(cacheMillis(URL_ID, 200, headers({ "cache-control": "max-age=31536000" })), MAX_CACHE_MS);
  });

  it("is zero for no-store, no-cache and private (the broker is a shared cache)", () => {
    assert.equal(cacheMillis(URL_ID, 200, headers({ "cache-control": "no-store" })), 0);
    assert.equal(cacheMillis(URL_ID, 200, headers({ "cache-control": "no-cache" })), 0);
    assert.equal(cacheMillis(URL_ID, 200, headers({ "cache-control": "private, max-age=600" })), 0);
    assert.equal(cacheMillis(URL_ID, 200, headers({ "cache-control": "public, no-cache, max-age=600" })), 0);
  });
});

describe("a document's checks", () => {
  const valid = { client_id: URL_ID, redirect_uris: ["https://agent.example.com/cb"] };

  it("keeps the name (the host when none), the redirect URIs and the grants, with the RFC 7591 defaults", () => {
    assert.deepEqual(readDocument(URL_ID, valid), {
      name: "agent.example.com",
      redirectUris: ["https://agent.example.com/cb"],
      grantTypes: ["authorization_code"],
    });
    assert.deepEqual(readDocument(URL_ID, { ...valid, client_name: " Agent ", grant_types: ["authorization_code", "refresh_token"] }).grantTypes, [
      "authorization_code",
      "refresh_token",
    ]);
  });

  it("refuses each broken rule with invalid_client naming it", () => {
    const cases: [unknown, RegExp][] = [
      [[valid], /is not a JSON object/],
      [{ ...valid, client_id: `${URL_ID}?x` }, /not its own URL/],
      [{ ...valid, client_id: undefined }, /names client_id null/],
      [{ ...valid, redirect_uris: [] }, /has no redirect_uris/],
      [{ ...valid, redirect_uris: [42] }, /not a string/],
      [{ ...valid, redirect_uris: ["https://agent.example.com/cb#f"] }, /must not contain a fragment/],
      [{ ...valid, token_endpoint_auth_method: "client_secret_post" }, /cannot carry a shared secret/],
      [{ ...valid, token_endpoint_auth_method: "tls_client_auth" }, /only none is/],
      [{ ...valid, client_secret_expires_at: 0 }, /contains a client_secret/],
      [{ ...valid, grant_types: ["refresh_token"] }, /grant_types must include authorization_code/],
      [{ ...valid, grant_types: "authorization_code" }, /grant_types/],
      [{ ...valid, response_types: ["code", "token"] }, /response_types must be/],
      [{ ...valid, client_name: "" }, /client_name must be/],
      [{ ...valid, client_name: "x".repeat(201) }, /client_name must be/],
    ];
    for (const [document, words] of cases) {
      assert.throws(
        () => readDocument(URL_ID, document),
        (err: Error & { code?: string; description?: string }) =>
          err.code === "invalid_client" && words.test(err.description ?? "") && err.description!.startsWith(`the client metadata document at ${URL_ID} `),
        JSON.stringify(document),
      );
    }
  });
});
