/**
 * connectors/shopify.yaml against a fake shop that behaves as Shopify
 * documents (test/support/conformance/providers/shopify.ts): per shop,
 * comma-separated scopes, an offline token answered as `{ access_token,
 * scope }` only, and the Admin API taking X-Shopify-Access-Token.
 *
 * shopify.yaml declares the missing token_type (auth.tokenResponse), and the
 * identity call is sent as api.credentials says, as the proxy's calls are.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { shopifyProfile, shopifyShop } from "../../support/conformance/providers/shopify.js";
import type { FakeProviderProfile } from "../../support/conformance/fake-provider.js";

const ORIGINS = ["https://{hostname}"];

async function withRun(provider: FakeProviderProfile, body: (run: ConformanceRun) => Promise<void>): Promise<void> {
  const run = await startConformance({ connector: "shopify", origins: ORIGINS, perServer: true, provider, user: shopifyShop(1) });
  try {
    await body(run);
  } finally {
    await run.stop();
  }
}

describe("shopify.yaml against Shopify's documented behaviour", () => {
  it("connects the shop (comma-separated scopes, no token_type), and identity and proxy send X-Shopify-Access-Token", async () => {
    await withRun(shopifyProfile(), async (run) => {
      const account = await run.connect();
      assert.equal((await run.account(account.accountId)).upstreamSubject, shopifyShop(1).id);
      assert.equal(run.provider.requestsTo("GET", "/admin/oauth/authorize")[0]!.query.get("scope"), "read_products");
      assert.equal(run.provider.requestsTo("POST", "/admin/oauth/access_token")[0]!.form?.get("client_secret"), shopifyProfile().client.secret);
      const identity = run.provider.requestsTo("GET", "/admin/api/2025-01/shop.json");
      assert.equal(identity.length, 1);
      assert.equal(identity[0]!.headers.authorization, undefined, "no Bearer header beside it");
      assert.ok(identity[0]!.headers["x-shopify-access-token"]);
      const res = await run.proxy(account, "/products.json?limit=1");
      assert.equal(res.status, 200, res.text);
      assert.ok(res.json<{ headers: Record<string, string> }>().headers["x-shopify-access-token"]);
    });
  });

  it("without auth.tokenResponse.tokenTypeOptional, the token response without token_type is refused", async () => {
    const run = await startConformance({
      connector: "shopify",
      origins: ORIGINS,
      perServer: true,
      provider: shopifyProfile(),
      user: shopifyShop(1),
      edit: (text) => text.replace(/  tokenResponse:\n    tokenTypeOptional: true\n/, ""),
    });
    try {
      await assert.rejects(run.connect(), /connect failed: .*invalid response during the code exchange/);
      assert.equal(run.provider.requestsTo("GET", "/admin/api/2025-01/shop.json").length, 0);
    } finally {
      await run.stop();
    }
  });

  it("a shop that refuses the token at the identity URL fails the connect", async () => {
    const shopify = shopifyProfile();
    await withRun(
      { ...shopify, resources: { "GET /admin/api/2025-01/shop.json": () => ({ status: 401, body: { errors: "[API] Invalid API key" } }) } },
      async (run) => {
        await assert.rejects(run.connect(), /connect failed: .*refused the access token at its identity URL \(HTTP 401\)/);
        assert.equal(await run.broker.services.db.account.count(), 0);
      },
    );
  });
});
