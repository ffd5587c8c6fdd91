/**
 * `GET /` (src/front-page.ts): a small page linking discovery, health and the
 * docs for a browser, the same links as JSON for a client that prefers it.
 * (The route table serves it to every caller: the authorization matrix.)
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parse } from "node-html-parser";
import { frontPage } from "../../../src/front-page.js";
import type { Exchange } from "../../../src/http/route.js";
import type { Config } from "../../../src/config.js";

const ISSUER = "http://localhost:4100";

describe("GET /", () => {
  let server: Server;
  let url: string;

  before(async () => {
    const handle = frontPage({ config: { issuer: ISSUER } as Config });
    server = createServer((req, res) => handle({ req, res } as Exchange));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("shows a browser a page linking discovery, the health probes, the OpenAPI document and the docs", async () => {
    const res = await fetch(url, { headers: { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/html/);
    assert.equal(res.headers.get("vary"), "Accept");
    assert.match(res.headers.get("content-security-policy")!, /default-src 'none'/, "the pages' security headers");
    const page = parse(await res.text());
    const links = page.querySelectorAll("a").map((a) => a.getAttribute("href"));
    for (const path of ["/.well-known/openid-configuration", "/healthz", "/readyz", "/admin/v1/openapi.json", "/connect.js"])
      assert.ok(links.includes(path), `links ${path}`);
    assert.match(page.textContent, /admin token/);
    assert.match(page.textContent, /docs\/authorization-server\.md/);
    assert.match(page.textContent, /Issuer: http:\/\/localhost:4100/);
  });

  it("answers HTML when Accept says nothing, and JSON with absolute links when it prefers application/json", async () => {
    assert.match((await fetch(url, { headers: { accept: "*/*" } })).headers.get("content-type")!, /^text\/html/);
    const res = await fetch(url, { headers: { accept: "application/json" } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^application\/json/);
    const body = (await res.json()) as { issuer: string; links: Record<string, string>; docs: string[] };
    assert.equal(body.issuer, ISSUER);
    assert.equal(body.links.openid_configuration, `${ISSUER}/.well-known/openid-configuration`);
    assert.equal(body.links.healthz, `${ISSUER}/healthz`);
    assert.equal(body.links.readyz, `${ISSUER}/readyz`);
    assert.equal(body.links.openapi, `${ISSUER}/admin/v1/openapi.json`);
    assert.equal(body.links.connect_widget, `${ISSUER}/connect.js`);
    assert.ok(body.docs.includes("docs/operations.md"));
  });
});
