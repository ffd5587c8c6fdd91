/**
 * Bodies are streamed both ways, never buffered (issue 7): a 100 MB
 * download and a 100 MB upload pass through the proxy byte for byte while
 * the memory of the process (which hosts the app, the broker and the
 * upstream) stays flat.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { request } from "undici";
import { startTestBroker, type TestBroker } from "../../support/broker.js";
import { measuringMemory } from "../../support/memory.js";
import { apiKeyCaller, apiKeyConnector, generatedChunks, headerCheck, startApiUpstream, type ApiUpstream } from "../../support/api-upstream.js";

const API_KEY = "sk_test_stream_0123";
const MB = 1024 * 1024;
const SIZE = 100 * MB;
/**
 * Buffers held at once, measured exactly (see `measuringMemory`): the few
 * chunks in flight. A proxy that buffered either body would hold all 100 MB.
 */
const MAX_BUFFERS_GROWTH = 8 * MB;
/**
 * RSS is a coarser guard: the allocator keeps freed pages for a while, and
 * runs on a busy CI machine showed up to 50 MB of that slack. Still below
 * the 100 MB a buffering proxy would add.
 */
const MAX_RSS_GROWTH = 80 * MB;

describe("streaming through the proxy", () => {
  let broker: TestBroker;
  let api: ApiUpstream;
  let token: string;

  before(async () => {
    api = await startApiUpstream({ check: headerCheck("X-Api-Key", API_KEY) });
    broker = await startTestBroker({
      connectors: { "acme.json": apiKeyConnector(api) },
    });
    ({ token } = await apiKeyCaller(broker.services, { connectorId: "acme", apiKey: API_KEY, appName: "Streamer" }));
  });

  after(async () => {
    await broker?.stop();
    await api?.close();
  });

  async function download(path: string): Promise<{ status: number; headers: Record<string, unknown>; bytes: number; sha256: string }> {
    const res = await request(`${broker.url}/v1/proxy${path}`, { headers: { authorization: `Bearer ${token}` } });
    const hash = createHash("sha256");
    let bytes = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    return { status: res.statusCode, headers: res.headers, bytes, sha256: hash.digest("hex") };
  }

  async function upload(
    size: number,
    withLength: boolean,
  ): Promise<{ status: number; echo: { bytes: number; sha256: string; contentLength: string | null; transferEncoding: string | null }; sentSha256: string }> {
    const sent = createHash("sha256");
    const body = Readable.from(
      (function* () {
        for (const chunk of generatedChunks(size)) {
          sent.update(chunk);
          yield chunk;
        }
      })(),
    );
    const res = await request(`${broker.url}/v1/proxy/upload`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream", ...(withLength ? { "content-length": String(size) } : {}) },
      body,
    });
    const echo = (await res.body.json()) as { bytes: number; sha256: string; contentLength: string | null; transferEncoding: string | null };
    return { status: res.statusCode, echo, sentSha256: sent.digest("hex") };
  }

  it("a 100 MB download arrives byte for byte with flat memory", async (t) => {
    const { result, rssGrowth, arrayBuffersGrowth } = await measuringMemory(() => download(`/large?bytes=${SIZE}`), {
      warmUp: () => download(`/large?bytes=${SIZE}`),
    });
    assert.equal(result.status, 200);
    assert.equal(result.headers["content-length"], String(SIZE), "the upstream's length is relayed");
    assert.equal(result.bytes, SIZE);
    assert.equal(result.sha256, api.stats.lastLargeSha256);
    t.diagnostic(`rss +${(rssGrowth / MB).toFixed(1)} MB, arrayBuffers +${(arrayBuffersGrowth / MB).toFixed(1)} MB`);
    assert.ok(rssGrowth < MAX_RSS_GROWTH, `rss grew ${(rssGrowth / MB).toFixed(1)} MB`);
    assert.ok(arrayBuffersGrowth < MAX_BUFFERS_GROWTH, `arrayBuffers grew ${(arrayBuffersGrowth / MB).toFixed(1)} MB`);
  });

  it("a download of unknown length is relayed chunked", async () => {
    const result = await download(`/large?bytes=${10 * MB}&chunked=1`);
    assert.equal(result.status, 200);
    assert.equal(result.headers["content-length"], undefined);
    assert.equal(result.bytes, 10 * MB);
    assert.equal(result.sha256, api.stats.lastLargeSha256);
  });

  it("a 100 MB upload with Content-Length arrives byte for byte with flat memory", async (t) => {
    const { result, rssGrowth, arrayBuffersGrowth } = await measuringMemory(() => upload(SIZE, true), { warmUp: () => upload(SIZE, true) });
    assert.equal(result.status, 200);
    assert.equal(result.echo.bytes, SIZE);
    assert.equal(result.echo.sha256, result.sentSha256);
    assert.equal(result.echo.contentLength, String(SIZE), "the length is passed on, not turned into chunks");
    t.diagnostic(`rss +${(rssGrowth / MB).toFixed(1)} MB, arrayBuffers +${(arrayBuffersGrowth / MB).toFixed(1)} MB`);
    assert.ok(rssGrowth < MAX_RSS_GROWTH, `rss grew ${(rssGrowth / MB).toFixed(1)} MB`);
    assert.ok(arrayBuffersGrowth < MAX_BUFFERS_GROWTH, `arrayBuffers grew ${(arrayBuffersGrowth / MB).toFixed(1)} MB`);
  });

  it("an upload of unknown length is streamed chunked", async () => {
    const result = await upload(20 * MB, false);
    assert.equal(result.status, 200);
    assert.equal(result.echo.bytes, 20 * MB);
    assert.equal(result.echo.sha256, result.sentSha256);
    assert.equal(result.echo.transferEncoding, "chunked");
  });
});
