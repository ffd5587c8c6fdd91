/**
 * `api.credentials: aws_sigv4`: the proxy signs every request with AWS
 * Signature Version 4 for an S3-compatible server that checks signatures
 * (test/support/s3-upstream.ts: s3rver behind a SigV4 check written from
 * AWS's description). Listing buckets, a 50 MB object up and down with flat
 * memory, keys that need encoding, and a wrong secret refused with S3's own
 * error passed back; the key check at connect; the schema's rules.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { request } from "undici";
import { stringify } from "yaml";
import { startTestBroker, type TestBroker } from "../../support/broker.js";
import { accountToken, generatedChunks, storeTestAccount } from "../../support/api-upstream.js";
import { measuringMemory } from "../../support/memory.js";
import { startS3Upstream, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, type S3Upstream } from "../../support/s3-upstream.js";
import { parseConnectorText } from "../../../src/connectors/loader.js";
import { buildKindContext } from "../../../src/connectors/context.js";
import { isStaticCredentialChecker } from "../../../src/connectors/kinds/types.js";
import { FormValuesRejected } from "../../../src/connectors/errors.js";

const MB = 1024 * 1024;
const SIZE = 50 * MB;
/** As in streaming.test.ts: the chunks in flight; a buffering proxy would hold all 50 MB. */
const MAX_BUFFERS_GROWTH = 8 * MB;
/** The V8 heap, after collections: a proxy that held the body as strings would grow it by 50 MB or more. */
const MAX_HEAP_GROWTH = 8 * MB;
/**
 * RSS is coarser (allocator slack, and s3rver runs in this process too): a CI run on a busy machine saw a PUT grow
 * it by 52.8 MB with Buffers flat, more than this 50 MB body. So it only guards against gross growth, as in
 * streaming.test.ts; the Buffers and heap bounds are the ones a buffering proxy cannot pass.
 */
const MAX_RSS_GROWTH = 80 * MB;

const FIELDS = [
  { name: "accessKeyId", label: "Access key ID" },
  { name: "secretAccessKey", label: "Secret access key", secret: true },
];

function s3Connector(s3: S3Upstream) {
  return {
    id: "s3",
    name: "S3 (test)",
    auth: { kind: "api_key", fields: FIELDS },
    api: { baseUrl: s3.url, credentials: "aws_sigv4", signing: { region: "us-east-1", service: "s3" } },
    identity: { url: `${s3.url}/` },
  };
}

/** The shipped per-server connector's shape, admitting the test server. */
function perServerConnector() {
  return {
    id: "s3-compatible",
    name: "S3-compatible (test)",
    auth: { kind: "api_key", fields: FIELDS },
    hostname: { pattern: "^127\\.0\\.0\\.1:[0-9]+$" },
    api: { baseUrl: "http://{hostname}", credentials: "aws_sigv4", signing: { region: "us-east-1" } },
    identity: { url: "http://{hostname}/" },
  };
}

describe("aws_sigv4: requests signed for an S3-compatible server", () => {
  let s3: S3Upstream;
  let broker: TestBroker;
  let token: string;
  let wrongSecretToken: string;
  let appId: string;

  before(async () => {
    s3 = await startS3Upstream({ buckets: ["photos"] });
    broker = await startTestBroker({ connectors: { "s3.json": s3Connector(s3), "s3-compatible.json": perServerConnector() } });
    const { client } = await broker.services.clients.create({ name: "S3 app", redirectUris: [], grantTypes: ["client_credentials"], scopes: ["proxy"] });
    appId = client.id;
    const good = await storeTestAccount(broker.services, {
      appId,
      connectorId: "s3",
      subject: S3_ACCESS_KEY_ID,
      tokens: { fields: { accessKeyId: S3_ACCESS_KEY_ID, secretAccessKey: S3_SECRET_ACCESS_KEY } },
    });
    token = await accountToken(broker.services, { appId, accountId: good, connectorId: "s3" });
    const wrong = await storeTestAccount(broker.services, {
      appId,
      connectorId: "s3",
      subject: "wrong",
      tokens: { fields: { accessKeyId: S3_ACCESS_KEY_ID, secretAccessKey: "not-the-secret" } },
    });
    wrongSecretToken = await accountToken(broker.services, { appId, accountId: wrong, connectorId: "s3" });
  });

  after(async () => {
    await broker?.stop();
    await s3?.close();
  });

  function proxied(path: string, options: { method?: string; headers?: Record<string, string>; body?: Readable | string; as?: string } = {}) {
    return request(`${broker.url}/v1/proxy${path}`, {
      method: (options.method ?? "GET") as "GET",
      headers: { authorization: `Bearer ${options.as ?? token}`, ...options.headers },
      body: options.body,
    });
  }

  it("lists the buckets (a signed GET /)", async () => {
    const before = s3.signed.hashed;
    const res = await proxied("/");
    const text = await res.body.text();
    assert.equal(res.statusCode, 200, text);
    assert.match(text, /<ListAllMyBucketsResult[^>]*>.*<Name>photos<\/Name>/s);
    assert.equal(s3.signed.hashed, before + 1, "checked by the server, with the empty payload's hash");
  });

  it("puts and gets a 50 MB object with flat memory (streamed as UNSIGNED-PAYLOAD)", async (t) => {
    let sent = "";
    /** PUTs the 50 MB object as a stream; `sent` is the hash of what this PUT sent. */
    const putBig = async () => {
      const hash = createHash("sha256");
      const body = Readable.from(
        (function* () {
          for (const chunk of generatedChunks(SIZE)) {
            hash.update(chunk);
            yield chunk;
          }
        })(),
      );
      const res = await proxied("/photos/big.bin", {
        method: "PUT",
        headers: { "content-length": String(SIZE), "content-type": "application/octet-stream" },
        body,
      });
      sent = hash.digest("hex");
      return { status: res.statusCode, text: await res.body.text() };
    };
    const getBig = async () => {
      const res = await proxied("/photos/big.bin");
      const hash = createHash("sha256");
      let bytes = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        hash.update(chunk);
        bytes += chunk.length;
      }
      return { status: res.statusCode, bytes, sha256: hash.digest("hex") };
    };
    const unsignedBefore = s3.signed.unsigned;
    // Each measured after one transfer like it (measuringMemory's warm-up: what the allocator keeps is not held by the proxy).
    const put = await measuringMemory(putBig, { warmUp: putBig });
    assert.equal(put.result.status, 200, put.result.text);
    assert.equal(s3.signed.unsigned, unsignedBefore + 2, "both PUTs streamed, unsigned");
    const got = await measuringMemory(getBig, { warmUp: getBig });
    assert.deepEqual(got.result, { status: 200, bytes: SIZE, sha256: sent });
    for (const [step, m] of [
      ["put", put],
      ["get", got],
    ] as const) {
      t.diagnostic(
        `${step}: rss +${(m.rssGrowth / MB).toFixed(1)} MB, arrayBuffers +${(m.arrayBuffersGrowth / MB).toFixed(1)} MB, heap +${(m.heapGrowth / MB).toFixed(1)} MB`,
      );
      assert.ok(m.arrayBuffersGrowth < MAX_BUFFERS_GROWTH, `${step}: arrayBuffers grew ${(m.arrayBuffersGrowth / MB).toFixed(1)} MB`);
      assert.ok(m.heapGrowth < MAX_HEAP_GROWTH, `${step}: the heap grew ${(m.heapGrowth / MB).toFixed(1)} MB`);
      assert.ok(m.rssGrowth < MAX_RSS_GROWTH, `${step}: rss grew ${(m.rssGrowth / MB).toFixed(1)} MB`);
    }
  });

  it("signs keys and queries that need encoding, and a small body by its hash", async () => {
    const hashedBefore = s3.signed.hashed;
    const put = await proxied("/photos/holiday%202026/caf%C3%A9%20(1).txt", {
      method: "PUT",
      headers: { "content-type": "text/plain", "x-amz-meta-note": "hi  there" },
      body: "hello",
    });
    assert.equal(put.statusCode, 200, await put.body.text());
    assert.equal(s3.signed.hashed, hashedBefore + 1, "a body the proxy holds is signed by its SHA-256");
    const list = await proxied("/photos?list-type=2&prefix=holiday%202026%2F&max-keys=10");
    const text = await list.body.text();
    assert.equal(list.statusCode, 200, text);
    assert.match(text, /<Key>holiday 2026\/café \(1\)\.txt<\/Key>/);
    const got = await proxied("/photos/holiday%202026/caf%C3%A9%20(1).txt");
    assert.equal(await got.body.text(), "hello");
  });

  it("replaces the app's own Authorization-like headers: x-amz-date, x-amz-content-sha256, x-amz-security-token", async () => {
    const res = await proxied("/", {
      headers: { "x-amz-date": "20000101T000000Z", "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-security-token": "app-made" },
    });
    assert.equal(res.statusCode, 200, await res.body.text());
  });

  it("a wrong secret is refused by the server, and its own error comes back to the app", async () => {
    const refusedBefore = s3.refused;
    const res = await proxied("/photos/big.bin", { as: wrongSecretToken });
    const text = await res.body.text();
    assert.equal(res.statusCode, 403);
    assert.match(String(res.headers["content-type"]), /xml/);
    assert.match(text, /<Code>SignatureDoesNotMatch<\/Code>/);
    assert.equal(s3.refused, refusedBefore + 1);
  });

  it("the key is checked once at connect with a signed GET: the right one connects, as its key id", async () => {
    for (const [connectorId, hostname] of [
      ["s3", undefined],
      ["s3-compatible", s3.host],
    ] as const) {
      const connector = broker.services.connectors.get(connectorId)!;
      const kind = broker.services.kinds.for(connector);
      assert.ok(isStaticCredentialChecker(kind));
      const ctx = await buildKindContext(broker.services, { connector, appId, hostname });
      const identity = await kind.checkCredentials(ctx, { accessKeyId: S3_ACCESS_KEY_ID, secretAccessKey: S3_SECRET_ACCESS_KEY });
      assert.equal(identity.subject, S3_ACCESS_KEY_ID, connectorId);
      await assert.rejects(
        kind.checkCredentials(ctx, { accessKeyId: S3_ACCESS_KEY_ID, secretAccessKey: "not-the-secret" }),
        (err: unknown) =>
          err instanceof FormValuesRejected && /did not accept this key \(HTTP 403\)/.test(err.description) && !err.description.includes("not-the-secret"),
      );
    }
  });

  it("per-server: calls go to the account's server, signed for it", async () => {
    const accountId = await storeTestAccount(broker.services, {
      appId,
      connectorId: "s3-compatible",
      hostname: s3.host,
      tokens: { fields: { accessKeyId: S3_ACCESS_KEY_ID, secretAccessKey: S3_SECRET_ACCESS_KEY } },
    });
    const perServerToken = await accountToken(broker.services, { appId, accountId, connectorId: "s3-compatible" });
    const res = await proxied("/photos?list-type=2", { as: perServerToken });
    assert.equal(res.statusCode, 200, await res.body.text());
  });
});

describe("aws_sigv4 in a connector file", () => {
  const base = {
    id: "s3",
    name: "S3",
    auth: { kind: "api_key", fields: FIELDS },
    api: { baseUrl: "https://s3.us-east-1.amazonaws.com", credentials: "aws_sigv4", signing: { region: "us-east-1", service: "s3" } },
    identity: { url: "https://s3.us-east-1.amazonaws.com/" },
  };
  const parse = (doc: object) => parseConnectorText("connectors/s3.yaml", stringify(doc), {});

  it("is accepted with its signing scope, an access key id and a secret", () => {
    assert.deepEqual(parse(base).api?.signing, { region: "us-east-1", service: "s3" });
  });

  it("each missing or misplaced part is refused with the field that is wrong", () => {
    const cases: [object, RegExp][] = [
      [{ ...base, api: { ...base.api, signing: undefined } }, /api\.signing: is required with api\.credentials: aws_sigv4/],
      [
        { ...base, api: { baseUrl: base.api.baseUrl, credentials: "bearer", signing: base.api.signing }, identity: { url: base.identity.url, subject: "id" } },
        /api\.signing: is only for api\.credentials: aws_sigv4/,
      ],
      [
        { ...base, auth: { kind: "api_key", fields: [{ name: "key", label: "Key", secret: true }] } },
        /auth\.fields: must include accessKeyId and a secret secretAccessKey/,
      ],
      [{ ...base, identity: { url: base.identity.url, subject: "Owner.ID" } }, /identity\.subject: is not read with api\.credentials: aws_sigv4/],
      [{ ...base, api: { ...base.api, signing: { region: "US East" } } }, /api\.signing\.region: must be lower-case letters, digits and -/],
      [
        {
          id: "s3",
          name: "S3",
          auth: { kind: "client_credentials", tokenUrl: "https://auth.example.com/token", clientId: "a", clientSecret: "b" },
          api: base.api,
        },
        /api\.credentials: aws_sigv4 signs with a key the end user types/,
      ],
    ];
    for (const [doc, message] of cases) assert.throws(() => parse(doc), message);
  });
});
