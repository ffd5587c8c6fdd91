/**
 * connectors/jira-cloud.yaml against a fake Jira Cloud site that behaves as
 * Atlassian documents for API tokens (test/support/conformance/providers/jira.ts):
 * HTTP Basic with email and token, /rest/api/3/myself for who connected.
 * The file admits only `*.atlassian.net`; the test widens `hostname.pattern`
 * to the fake's 127.0.0.1 address, and changes nothing else.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { jiraProfile, jiraUser } from "../../support/conformance/providers/jira.js";

const ORIGINS = ["https://{hostname}"];
const EMAIL = "jira1@acme.example";
const TOKEN = "ATATT3xFfGF0-api-token-0123456789";

describe("jira-cloud.yaml against Atlassian's documented behaviour", () => {
  let run: ConformanceRun;
  before(async () => {
    run = await startConformance({
      connector: "jira-cloud",
      origins: ORIGINS,
      perServer: true,
      clientCredentials: false,
      provider: jiraProfile(),
      user: jiraUser(1),
      edit: (text) => {
        const widened = text.replace(/^(\s*pattern: )".*"$/m, '$1"^127\\\\.0\\\\.0\\\\.1:[0-9]+$"');
        assert.notEqual(widened, text);
        return widened;
      },
    });
    run.provider.addStaticToken(`${EMAIL}:${TOKEN}`, jiraUser(1));
  });
  after(() => run?.stop());

  it("an email and token Jira accepts connect its account, checked with Basic at /myself", async () => {
    const account = await run.connect(undefined, { fields: { email: EMAIL, apiToken: TOKEN } });
    const row = await run.account(account.accountId);
    assert.equal(row.hostname, run.hostname);
    assert.equal(row.upstreamSubject, jiraUser(1).id);
    assert.equal((row.profile as { name?: string }).name, "Jira User 1");
    const basic = `Basic ${Buffer.from(`${EMAIL}:${TOKEN}`).toString("base64")}`;
    assert.equal(run.provider.requestsTo("GET", "/rest/api/3/myself").at(-1)!.headers.authorization, basic);
    const res = await run.proxy(account, "/search?jql=assignee%3DcurrentUser()");
    assert.equal(res.status, 200, res.text);
    const echoed = res.json<{ path: string; headers: Record<string, string> }>();
    assert.equal(echoed.path, "/rest/api/3/search");
    assert.equal(echoed.headers.authorization, basic);
  });

  it("a token Jira refuses (401) keeps the end user on the form", async () => {
    await assert.rejects(run.connect(undefined, { fields: { email: EMAIL, apiToken: "wrong-token" } }), /connect stopped at .*\/connect\/credentials/);
  });
});
