/**
 * The connector picker (GET /oauth/authorize without a connector): the app's
 * name, each service with its logo or initials, a search box that works
 * without JavaScript and keeps the authorization request, and what the app
 * will be able to do in plain words.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { parse, type HTMLElement } from "node-html-parser";
import { startTestBroker, type TestBroker } from "../support/broker.js";

const REDIRECT = "http://127.0.0.1:9/callback";
const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const LOGO = "data:image/svg+xml;base64,PHN2Zy8+";

function oidcConnector(id: string, name: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    name,
    auth: { kind: "oidc", issuer: "http://127.0.0.1:9", clientId: "x", clientSecret: "y" },
    scopes: { "files.read": ["files:read", "openid"], admin: ["files:admin"] },
    defaultScopes: ["files.read"],
    api: { baseUrl: "http://127.0.0.1:9/api" },
    ...extra,
  };
}

describe("the connector picker", () => {
  let broker: TestBroker;
  let appId: string;
  let restrictedAppId: string;

  before(async () => {
    broker = await startTestBroker({
      connectors: {
        "acme.json": oidcConnector("acme-cloud", "Acme Cloud", { logo: LOGO }),
        "globex.json": oidcConnector("globex", "Globex Drive"),
        "initech.json": oidcConnector("initech", "Initech Files"),
      },
    });
    appId = (
      await broker.services.clients.create({
        name: "Files <Viewer>",
        redirectUris: [REDIRECT],
        scopes: ["openid", "email", "profile", "proxy", "offline_access", "accounts:read"],
      })
    ).client.id;
    restrictedAppId = (await broker.services.clients.create({ name: "Only Globex", redirectUris: [REDIRECT], connectors: ["globex"] })).client.id;
  });
  after(() => broker?.stop());

  function request(extra: Record<string, string> = {}, clientId = appId): Record<string, string> {
    return {
      client_id: clientId,
      redirect_uri: REDIRECT,
      response_type: "code",
      state: "st-1",
      nonce: "n-1",
      code_challenge: CHALLENGE,
      code_challenge_method: "S256",
      ...extra,
    };
  }

  async function picker(params: Record<string, string>): Promise<{ status: number; root: HTMLElement; headers: Headers }> {
    const url = new URL("/oauth/authorize", broker.url);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const res = await fetch(url, { redirect: "manual" });
    return { status: res.status, root: parse(await res.text()), headers: res.headers };
  }

  const choices = (root: HTMLElement) => root.querySelectorAll("ul.choices li a");
  const names = (root: HTMLElement) => root.querySelectorAll(".choice-name").map((n) => n.text);

  it("names the app (escaped) and lists every service the app may use, with its logo or initials", async () => {
    const { status, root, headers } = await picker(request({ scope: "openid proxy" }));
    assert.equal(status, 200);
    assert.equal(headers.get("x-frame-options"), "DENY");
    assert.equal(root.querySelector("h1")?.text, "Connect an account");
    assert.match(root.querySelector("main p strong")?.text ?? "", /^Files <Viewer>$/, "the name is text, not markup");
    assert.deepEqual(names(root), ["Acme Cloud", "Globex Drive", "Initech Files"]);
    const [acme, globex] = choices(root);
    assert.equal(acme!.querySelector("img")?.getAttribute("src"), LOGO);
    assert.equal(acme!.querySelector("img")?.getAttribute("alt"), "", "the logo is decoration: the name says it");
    assert.equal(globex!.querySelector(".initials")?.text, "GD");

    const restricted = await picker(request({}, restrictedAppId));
    assert.deepEqual(names(restricted.root), ["Globex Drive"]);
  });

  it("each service links back to the same authorization request with its connector", async () => {
    const { root } = await picker(request({ scope: "openid proxy" }));
    const href = choices(root)[1]!.getAttribute("href")!;
    const link = new URL(href, broker.url);
    assert.equal(link.pathname, "/oauth/authorize");
    assert.deepEqual(Object.fromEntries(link.searchParams), { ...request({ scope: "openid proxy" }), connector: "globex" });
  });

  it("the search box is a GET form back to /oauth/authorize that carries the whole request", async () => {
    const params = request({ scope: "openid proxy" });
    const { root } = await picker(params);
    const form = root.querySelector("form[role=search]")!;
    assert.equal(form.getAttribute("method"), "get");
    assert.equal(form.getAttribute("action"), "/oauth/authorize");
    const hidden = Object.fromEntries(form.querySelectorAll("input[type=hidden]").map((i) => [i.getAttribute("name"), i.getAttribute("value")]));
    assert.deepEqual(hidden, params);
    const input = form.querySelector("input[type=search]")!;
    assert.equal(root.querySelector(`label[for=${input.getAttribute("id")}]`)?.text, "Search services", "the box is labelled");
    assert.equal(input.getAttribute("name"), "search");
  });

  it("searching filters by name, case-insensitively, and keeps the request", async () => {
    const { root } = await picker(request({ search: "DRIVE" }));
    assert.deepEqual(names(root), ["Globex Drive"]);
    assert.match(root.querySelector("[role=status]")?.text ?? "", /1 of 3 services match “DRIVE”/);
    assert.equal(root.querySelector("input[type=search]")?.getAttribute("value"), "DRIVE");
    const link = new URL(choices(root)[0]!.getAttribute("href")!, broker.url);
    assert.equal(link.searchParams.get("connector"), "globex");
    assert.equal(link.searchParams.get("search"), null, "the search is not carried into the connect");
    assert.equal(link.searchParams.get("state"), "st-1");
  });

  it("a search that matches nothing says so and offers every service again", async () => {
    const { root } = await picker(request({ search: "<script>nothing" }));
    assert.deepEqual(names(root), []);
    const status = root.querySelector("[role=status]")!;
    assert.match(status.text, /No service matches “<script>nothing”/);
    assert.equal(root.querySelectorAll("script").length, 0, "the search text is escaped");
    const all = new URL(status.querySelector("a")!.getAttribute("href")!, broker.url);
    assert.equal(all.searchParams.get("search"), null);
    assert.equal(all.searchParams.get("client_id"), appId);
  });

  it("lists what the app will be able to do in plain words", async () => {
    const { root } = await picker(request({ scope: "openid email proxy offline_access accounts:read" }));
    const consent = root.querySelector("section[aria-labelledby=consent-heading]")!;
    assert.equal(consent.querySelector("h2")?.text, "Files <Viewer> will be able to");
    const items = consent.querySelectorAll("li").map((li) => li.text);
    assert.equal(items.length, 5);
    assert.match(items[2]!, /Use the service's API on your behalf/);
    assert.match(items[3]!, /Keep this access when you are not using the app/);
    assert.match(items[4]!, /See the accounts you connected/);
  });

  it("the identity scopes say what the ID token and userinfo will carry: the account and its server, the email and its verification, the name", async () => {
    const { root } = await picker(request({ scope: "openid email profile" }));
    const items = root.querySelectorAll("section[aria-labelledby=consent-heading] li").map((li) => li.text);
    assert.equal(items.length, 3);
    assert.match(items[0]!, /Confirm which account you connected, at which service, and your server's address if you type one/);
    assert.match(items[1]!, /See your email address at the service, and whether the service verified it/);
    assert.match(items[2]!, /See your name at the service/);
  });

  it("an app that names no scope is shown the proxy access it will get", async () => {
    const { root } = await picker(request());
    const items = root.querySelectorAll("section[aria-labelledby=consent-heading] li").map((li) => li.text);
    assert.equal(items.length, 1);
    assert.match(items[0]!, /Use the service's API on your behalf/);
  });

  it("each service says how the end user connects and what it will ask the service for", async () => {
    const { root } = await picker(request());
    assert.equal(root.querySelector(".choice-how")?.text, "Sign in at Acme Cloud · asks for files:read, openid");
  });
});
