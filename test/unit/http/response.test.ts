/**
 * Every answer of the broker's server carries its request's id
 * (`X-Request-Id`), however the route writes it (response.ts); headers given
 * to `writeHead` that carry the id already stay on Node's fast path (no
 * header stored one by one: `getHeaderNames()` stays empty), and an object
 * given is never changed.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { listen, type RunningServer } from "../../../src/http/server.js";
import { tagWithRequestId } from "../../../src/http/response.js";

type Writer = (res: ServerResponse) => void;

const SHARED = Object.freeze({ "content-type": "text/plain" });

const writers: Record<string, Writer> = {
  "/object": (res) => {
    res.writeHead(201, SHARED);
    res.end("{}");
  },
  "/carried": (res) => {
    res.writeHead(201, { "content-type": "text/plain", "x-request-id": "id-carried" });
    res.end(JSON.stringify({ stored: res.getHeaderNames() }));
  },
  "/message": (res) => {
    res.writeHead(202, "Taken", { "content-type": "text/plain" });
    res.end("{}");
  },
  "/array": (res) => {
    res.writeHead(200, ["content-type", "text/plain"]);
    res.end("{}");
  },
  "/set-first": (res) => {
    res.setHeader("cache-control", "no-store");
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("{}");
  },
  "/end-only": (res) => {
    res.statusCode = 204;
    res.end();
  },
};

describe("the broker's responses carry their request id", () => {
  let server: RunningServer;
  before(async () => {
    server = await listen(
      (req: IncomingMessage, res: ServerResponse) => {
        tagWithRequestId(res, `id-${req.url!.slice(1)}`);
        writers[req.url!]!(res);
      },
      0,
      "127.0.0.1",
    );
  });
  after(() => server?.close(0));

  for (const path of Object.keys(writers)) {
    it(`when the route writes ${path.slice(1)}`, async () => {
      const answer = await fetch(`${server.url}${path}`);
      assert.equal(answer.headers.get("x-request-id"), `id-${path.slice(1)}`);
      if (path === "/message") assert.equal(answer.statusText, "Taken");
      if (path === "/set-first") assert.equal(answer.headers.get("cache-control"), "no-store");
      if (path !== "/end-only") assert.equal(answer.headers.get("content-type"), "text/plain");
      await answer.arrayBuffer();
    });
  }

  it("headers given to writeHead with the id among them are not stored one by one", async () => {
    const answer = await fetch(`${server.url}/carried`);
    assert.equal(answer.status, 201);
    assert.deepEqual(await answer.json(), { stored: [] });
  });

  it("headers given to writeHead without the id are left as they were", async () => {
    await (await fetch(`${server.url}/object`)).arrayBuffer();
    assert.deepEqual(SHARED, { "content-type": "text/plain" });
  });
});
