/**
 * connectors/amazon-s3.yaml and connectors/s3-compatible.yaml against an
 * S3-compatible server that checks AWS Signature Version 4 as S3 does
 * (test/support/s3-upstream.ts: s3rver behind a SigV4 check written from
 * AWS's description), through the real connect flow: the end user types an
 * access key of the shape AWS issues, the broker checks it with a signed
 * GET of the service root (ListAllMyBuckets), and the proxy signs every
 * call. s3-compatible.yaml admits only Cloudflare R2 hosts; its test widens
 * `hostname.pattern` to the server's 127.0.0.1 address and changes nothing else.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startTestBroker, type TestBroker } from "../../support/broker.js";
import { registerTestApp, type TestApp } from "../../support/flow.js";
import { rawRequest } from "../../support/api-upstream.js";
import { connectThroughBroker, pointShippedConnectorAt, type ConformanceAccount } from "../../support/conformance/harness.js";
import { startS3Upstream, type S3Upstream } from "../../support/s3-upstream.js";

// AWS's documented example key (IAM user guide): a 20-character id and a 40-character secret.
const KEY_ID = "AKIAIOSFODNN7EXAMPLE";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

interface S3Run {
  s3: S3Upstream;
  broker: TestBroker;
  app: TestApp;
  stop(): Promise<void>;
}

async function startS3Run(connector: string, pointed: (s3: S3Upstream) => string): Promise<S3Run> {
  const s3 = await startS3Upstream({ buckets: ["photos"], accessKeys: { [KEY_ID]: SECRET } });
  const broker = await startTestBroker({ connectors: { [`${connector}.yaml`]: pointed(s3) } });
  const app = await registerTestApp(broker, ["proxy", "accounts:read", "accounts:write"]);
  return {
    s3,
    broker,
    app,
    stop: async () => {
      await broker.stop();
      await s3.close();
    },
  };
}

function proxy(run: S3Run, account: ConformanceAccount, path: string, init: { method?: string; body?: string } = {}) {
  return rawRequest(run.broker.url, {
    method: init.method,
    path: `/v1/proxy${path}`,
    headers: { authorization: `Bearer ${account.tokens.access_token}`, ...(init.body === undefined ? {} : { "content-type": "text/plain" }) },
    body: init.body,
  });
}

describe("amazon-s3.yaml against a server that checks SigV4 as S3 does", () => {
  let run: S3Run;
  before(async () => {
    run = await startS3Run("amazon-s3", (s3) => pointShippedConnectorAt("amazon-s3", ["https://s3.us-east-1.amazonaws.com"], s3.url));
  });
  after(() => run?.stop());

  it("an AWS access key connects, checked by a signed GET of the service root, and calls are signed", async () => {
    const before = run.s3.signed.hashed;
    const account = await connectThroughBroker(run.app, "amazon-s3", { scope: "proxy", fields: { accessKeyId: KEY_ID, secretAccessKey: SECRET } });
    assert.ok(run.s3.signed.hashed > before, "the key was checked with a signed request at connect");
    const row = await run.broker.services.db.account.findUniqueOrThrow({ where: { id: account.accountId } });
    assert.equal(row.upstreamSubject, KEY_ID);

    const list = await proxy(run, account, "/");
    assert.equal(list.status, 200, list.text);
    assert.match(list.text, /<Name>photos<\/Name>/);
    const put = await proxy(run, account, "/photos/notes/hello%20world.txt", { method: "PUT", body: "hello" });
    assert.equal(put.status, 200, put.text);
    const got = await proxy(run, account, "/photos/notes/hello%20world.txt");
    assert.equal(got.status, 200);
    assert.equal(got.text, "hello");
  });

  it("a wrong secret is refused at connect, by the server's own signature check", async () => {
    const refusedBefore = run.s3.refused;
    await assert.rejects(
      connectThroughBroker(run.app, "amazon-s3", { scope: "proxy", fields: { accessKeyId: KEY_ID, secretAccessKey: "not-the-secret-0123456789" } }),
      /connect stopped at .*\/connect\//,
    );
    assert.equal(run.s3.refused, refusedBefore + 1);
  });

  it("an access key id of another shape is refused by the file's pattern before anything is sent", async () => {
    const refusedBefore = run.s3.refused;
    const signedBefore = run.s3.signed.hashed;
    await assert.rejects(
      connectThroughBroker(run.app, "amazon-s3", { scope: "proxy", fields: { accessKeyId: "not-a-key", secretAccessKey: SECRET } }),
      /connect stopped at/,
    );
    assert.equal(run.s3.refused, refusedBefore);
    assert.equal(run.s3.signed.hashed, signedBefore);
  });
});

describe("s3-compatible.yaml against a server that checks SigV4 as S3 does", () => {
  let run: S3Run;
  before(async () => {
    run = await startS3Run("s3-compatible", (s3) => {
      const text = pointShippedConnectorAt("s3-compatible", ["https://{hostname}"], s3.url);
      const widened = text.replace(/^(\s*pattern: )".*"$/m, '$1"^127\\\\.0\\\\.0\\\\.1:[0-9]+$"');
      assert.notEqual(widened, text);
      return widened;
    });
  });
  after(() => run?.stop());

  it("connects to the server the end user names, and signs calls for it", async () => {
    const account = await connectThroughBroker(run.app, "s3-compatible", {
      scope: "proxy",
      hostname: run.s3.host,
      fields: { accessKeyId: KEY_ID, secretAccessKey: SECRET },
    });
    const row = await run.broker.services.db.account.findUniqueOrThrow({ where: { id: account.accountId } });
    assert.equal(row.hostname, run.s3.host);
    const list = await proxy(run, account, "/");
    assert.equal(list.status, 200, list.text);
    assert.match(list.text, /<Name>photos<\/Name>/);
  });

  it("a server the pattern does not admit is refused on the hostname page", async () => {
    await assert.rejects(
      connectThroughBroker(run.app, "s3-compatible", {
        scope: "proxy",
        hostname: "storage.evil.example",
        fields: { accessKeyId: KEY_ID, secretAccessKey: SECRET },
      }),
      /connect (stopped|failed)/,
    );
  });
});
