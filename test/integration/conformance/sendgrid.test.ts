/**
 * connectors/sendgrid.yaml against a fake SendGrid that behaves as SendGrid
 * documents (test/support/conformance/providers/sendgrid.ts): an API key
 * sent as Bearer, checked at /v3/user/username, whose `user_id` is a number.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { sendGridProfile, sendGridUser } from "../../support/conformance/providers/sendgrid.js";

const ORIGINS = ["https://api.sendgrid.com"];
const KEY = "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";

describe("sendgrid.yaml against SendGrid's documented behaviour", () => {
  let run: ConformanceRun;
  before(async () => {
    run = await startConformance({ connector: "sendgrid", origins: ORIGINS, provider: sendGridProfile(), user: sendGridUser(1), clientCredentials: false });
    run.provider.addStaticToken(KEY, sendGridUser(1));
  });
  after(() => run?.stop());

  it("a key SendGrid accepts connects its user, the numeric user_id as subject", async () => {
    const account = await run.connect(undefined, { fields: { apiKey: KEY } });
    const row = await run.account(account.accountId);
    assert.equal(row.upstreamSubject, sendGridUser(1).id);
    assert.equal((row.profile as { name?: string }).name, "mailer1");
    assert.equal(run.provider.requestsTo("GET", "/v3/user/username").at(-1)!.headers.authorization, `Bearer ${KEY}`);
  });

  it("the proxy sends the key as Bearer under /v3", async () => {
    const account = await run.connect(undefined, { fields: { apiKey: KEY } });
    const res = await run.proxy(account, "/mail/send", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(res.status, 200, res.text);
    const echoed = res.json<{ path: string; headers: Record<string, string> }>();
    assert.equal(echoed.path, "/v3/mail/send");
    assert.equal(echoed.headers.authorization, `Bearer ${KEY}`);
  });

  it("a key SendGrid refuses (401) keeps the end user on the form", async () => {
    await assert.rejects(run.connect(undefined, { fields: { apiKey: "SG.wrongwrongwrong.wrongwrongwrong" } }), /connect stopped at .*\/connect\/credentials/);
  });

  it("a value that is not a SendGrid key is refused before SendGrid is asked", async () => {
    const asked = run.provider.requestsTo("GET", "/v3/user/username").length;
    await assert.rejects(run.connect(undefined, { fields: { apiKey: "not-a-key" } }), /connect stopped at .*\/connect\/credentials/);
    assert.equal(run.provider.requestsTo("GET", "/v3/user/username").length, asked);
  });
});
