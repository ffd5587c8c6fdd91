/**
 * The upstream's answer as the proxy takes it (src/proxy/upstream-answer.ts),
 * through undici's real dispatch to a real local upstream, relayed to a real
 * app connection: a body that arrives before the broker decides is held
 * (the upstream paused past 64 KiB) and relayed whole and in order; an
 * informational 1xx answer is skipped for the final one; a
 * dropped body is read to the end when small (its connection is reused) and
 * cut when large; an upstream that fails mid-body cuts the app's connection.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent } from "undici";
import { UpstreamAnswer } from "../../../src/proxy/upstream-answer.js";

const MIB = 1024 * 1024;
/** 1 MiB whose every 4 bytes differ from their neighbours': a reordered or lost chunk changes its hash. */
const LARGE = Buffer.alloc(MIB);
for (let i = 0; i < MIB; i += 4) LARGE.writeUInt32BE(i, i);
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("the upstream's answer: held, relayed, dropped", () => {
  let upstream: Server;
  let origin: string;
  let agent: Agent;
  let connections = 0;
  /** Whether the upstream's last `/large` response was sent whole. */
  let lastLarge: "finished" | "cut" | undefined;

  before(async () => {
    upstream = createServer((req, res) => {
      req.resume();
      if (req.url === "/small") return void res.writeHead(401, { "content-type": "application/json" }).end('{"message":"Bad credentials"}');
      if (req.url === "/large") {
        res.once("close", () => (lastLarge = res.writableFinished ? "finished" : "cut"));
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": LARGE.length });
        // In 16 KiB writes, so the body arrives over many reads.
        for (let at = 0; at < LARGE.length; at += 16 * 1024) res.write(LARGE.subarray(at, at + 16 * 1024));
        return void res.end();
      }
      if (req.url === "/early-hints") {
        res.writeEarlyHints({ link: "</style.css>; rel=preload; as=style" });
        // The final answer in a later packet: the hints alone must not settle anything.
        return void setTimeout(() => res.writeHead(200, { "content-type": "text/plain" }).end("final answer"), 50);
      }
      if (req.url === "/broken") {
        res.writeHead(200, { "content-type": "text/plain", "content-length": 1000 });
        res.write("only part of it");
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      res.writeHead(404).end();
    });
    upstream.on("connection", () => (connections += 1));
    origin = await listen(upstream);
    agent = new Agent({ connections: 4 });
  });

  after(async () => {
    await agent.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  function send(path: string): UpstreamAnswer {
    const answer = new UpstreamAnswer(() => undefined);
    agent.dispatch({ origin, path, method: "GET", headers: {} }, answer);
    return answer;
  }

  /** An app's connection whose response `relay` writes; resolves with what the app received (or how it failed) and how the relay settled. */
  async function throughApp(relay: (res: ServerResponse) => Promise<void>): Promise<{ body: Buffer | Error; relay: "resolved" | Error }> {
    let settled!: Promise<"resolved" | Error>;
    const app = createServer((_req, res) => {
      settled = relay(res).then(
        () => "resolved" as const,
        (err: Error) => err,
      );
    });
    const url = await listen(app);
    try {
      const body = await new Promise<Buffer | Error>((resolve) => {
        get(url, (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => resolve(Buffer.concat(chunks)));
          res.on("error", resolve);
        }).on("error", resolve);
      });
      return { body, relay: await settled };
    } finally {
      app.closeAllConnections();
      app.close();
    }
  }

  it("a body that arrives before the relay starts is held, then relayed whole and in order", async () => {
    const answer = await send("/large").started;
    assert.equal(answer.statusCode, 200);
    assert.equal(answer.headers["content-length"], String(MIB));
    // The upstream sends meanwhile: more than the 64 KiB held before it is paused.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { body, relay } = await throughApp((res) => answer.relayTo(res, { "content-length": String(MIB) }));
    assert.equal(relay, "resolved");
    assert.ok(Buffer.isBuffer(body));
    assert.equal(body.length, MIB);
    assert.equal(sha256(body), sha256(LARGE));
    assert.equal(lastLarge, "finished");
  });

  it("an informational answer (103 Early Hints) is not the answer: the final status, headers and body are relayed", async () => {
    const answer = await send("/early-hints").started;
    assert.equal(answer.statusCode, 200);
    assert.equal(answer.headers["content-type"], "text/plain");
    const { body, relay } = await throughApp((res) => answer.relayTo(res, { "content-type": "text/plain" }));
    assert.equal(relay, "resolved");
    assert.equal(String(body), "final answer");
  });

  /** Connections the upstream opens for one more request: 0 when the last one went back to the pool. */
  async function newConnectionsForNextRequest(): Promise<number> {
    // undici gives a connection back to its pool once the response's end has been handled.
    await new Promise((resolve) => setImmediate(resolve));
    const before = connections;
    await (await send("/small").started).discard();
    return connections - before;
  }

  it("a small body dropped is read to the end, and its connection serves the next request", async () => {
    const answer = await send("/small").started;
    assert.equal(answer.statusCode, 401);
    await answer.discard();
    assert.equal(await newConnectionsForNextRequest(), 0, "no new connection");
  });

  it("a large body dropped is cut, not read: the next request needs a new connection", async () => {
    await (await send("/large").started).discard();
    assert.equal(await newConnectionsForNextRequest(), 1, "the cut connection was not reused");
  });

  for (const [when, waitMs] of [
    ["mid-body: the relay rejects", 0],
    ["while its body was held: the relay rejects as soon as it starts", 100],
  ] as const) {
    it(`an upstream that fails ${when} and the app's connection is cut`, async () => {
      const answer = await send("/broken").started;
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      const { body, relay } = await throughApp((res) => answer.relayTo(res, { "content-length": "1000" }));
      assert.ok(relay instanceof Error, "the relay rejected");
      assert.ok(body instanceof Error || body.length < 1000, "the app did not get a whole body");
    });
  }

  it("an app that went away before the relay starts: the relay rejects at once", async () => {
    const answer = await send("/small").started;
    const relayed = new Promise<"resolved" | Error>((resolve) => {
      const app = createServer((req, res) => {
        // The app's connection is gone by the time the broker relays.
        res.once("close", () => {
          answer.relayTo(res, {}).then(
            () => resolve("resolved"),
            (err: Error) => resolve(err),
          );
          app.close();
        });
      });
      void listen(app).then((url) => {
        const request = get(url).on("error", () => undefined);
        setTimeout(() => request.destroy(), 50);
      });
    });
    const outcome = await relayed;
    assert.ok(outcome instanceof Error, "the relay rejected");
    assert.equal((outcome as Error & { code?: string }).code, "ERR_STREAM_PREMATURE_CLOSE");
  });

  it("a failure before the response starts rejects `started`", async () => {
    const answer = new UpstreamAnswer(() => undefined);
    agent.dispatch({ origin: "http://127.0.0.1:9", path: "/", method: "GET", headers: {} }, answer);
    await assert.rejects(answer.started);
  });

  it("a request whose app went away before it reached a connection is aborted there", async () => {
    const answer = new UpstreamAnswer(() => new Error("the app went away"));
    agent.dispatch({ origin, path: "/small", method: "GET", headers: {} }, answer);
    await assert.rejects(answer.started, /the app went away/);
  });
});
