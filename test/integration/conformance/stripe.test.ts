/**
 * connectors/stripe.yaml against a fake Stripe that behaves as Stripe
 * documents (test/support/conformance/providers/stripe.ts): a secret key
 * sent as Bearer, checked at GET /v1/account.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { stripeAccount, stripeProfile } from "../../support/conformance/providers/stripe.js";

const ORIGINS = ["https://api.stripe.com"];
const KEY = "sk_test_51NvAbCdEfGhIjKlMnOpQrStUv";

describe("stripe.yaml against Stripe's documented behaviour", () => {
  let run: ConformanceRun;
  before(async () => {
    run = await startConformance({ connector: "stripe", origins: ORIGINS, provider: stripeProfile(), user: stripeAccount(1), clientCredentials: false });
    run.provider.addStaticToken(KEY, stripeAccount(1));
  });
  after(() => run?.stop());

  it("a key Stripe accepts connects the key's account", async () => {
    const account = await run.connect(undefined, { fields: { apiKey: KEY } });
    const row = await run.account(account.accountId);
    assert.equal(row.upstreamSubject, stripeAccount(1).id);
    assert.equal((row.profile as { email?: string }).email, "billing1@acme.example");
    assert.equal((row.profile as { name?: string }).name, "Acme 1");
    assert.equal(run.provider.requestsTo("GET", "/v1/account").at(-1)!.headers.authorization, `Bearer ${KEY}`);
  });

  it("the proxy sends the key as Bearer under /v1", async () => {
    const account = await run.connect(undefined, { fields: { apiKey: KEY } });
    const res = await run.proxy(account, "/customers?limit=1");
    assert.equal(res.status, 200, res.text);
    const echoed = res.json<{ path: string; headers: Record<string, string> }>();
    assert.equal(echoed.path, "/v1/customers");
    assert.equal(echoed.headers.authorization, `Bearer ${KEY}`);
  });

  it("a key Stripe refuses (401) keeps the end user on the form", async () => {
    await assert.rejects(run.connect(undefined, { fields: { apiKey: "sk_test_wrongwrongwrong" } }), /connect stopped at .*\/connect\/credentials/);
  });

  it("a value that is not a Stripe key is refused before Stripe is asked", async () => {
    const asked = run.provider.requestsTo("GET", "/v1/account").length;
    await assert.rejects(run.connect(undefined, { fields: { apiKey: "pk_test_publishable" } }), /connect stopped at .*\/connect\/credentials/);
    assert.equal(run.provider.requestsTo("GET", "/v1/account").length, asked);
  });
});
