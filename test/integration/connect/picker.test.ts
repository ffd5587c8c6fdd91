/**
 * The connector picker (an authorization request without a connector is
 * handed to /connect/start, which shows it): the app's name, each service
 * with its logo or initials, a search box that works without JavaScript and
 * stays in the same connect attempt, and what the app will be able to do in
 * plain words.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { parse, type HTMLElement } from "node-html-parser";
import { startTestBroker, type TestBroker } from "../../support/broker.js";
import { TestBrowser } from "../../support/browser.js";

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
        // Words for one scope of two: the other falls back to its name and upstream scopes.
        "initech.json": oidcConnector("initech", "Initech Files", { scopeDescriptions: { "files.read": "See your files and folders" } }),
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

  /** The picker of an authorization request (and, with `search`, that picker searched), in one browser. */
  async function picker(
    params: Record<string, string>,
    search?: string,
  ): Promise<{ status: number; root: HTMLElement; headers: Headers; url: URL; browser: TestBrowser }> {
    const browser = new TestBrowser();
    const url = new URL("/oauth/authorize", broker.url);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    let page = await browser.navigate(url.href);
    if (search !== undefined) {
      const searched = new URL(page.url);
      searched.searchParams.set("search", search);
      page = await browser.navigate(searched.href);
    }
    return { status: page.status, root: parse(page.body), headers: page.headers, url: page.url, browser };
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

  it("is shown by the connect flow, for the attempt the authorization request started; each service links to that attempt with its connector", async () => {
    const { root, url } = await picker(request({ scope: "openid proxy" }));
    assert.equal(url.pathname, "/connect/start");
    const attempt = url.searchParams.get("connect")!;
    const link = new URL(choices(root)[1]!.getAttribute("href")!, broker.url);
    assert.equal(link.pathname, "/connect/start");
    assert.deepEqual(Object.fromEntries(link.searchParams), { connect: attempt, connector: "globex" });
  });

  it("the picker of an attempt is shown only to the browser that started it", async () => {
    const { url } = await picker(request({ scope: "openid proxy" }));
    const elsewhere = await new TestBrowser().navigate(url.href);
    assert.equal(elsewhere.status, 403);
    assert.deepEqual(names(parse(elsewhere.body)), []);
  });

  it("the search box is a GET form back to /connect/start in the same attempt", async () => {
    const { root, url } = await picker(request({ scope: "openid proxy" }));
    const form = root.querySelector("form[role=search]")!;
    assert.equal(form.getAttribute("method"), "get");
    assert.equal(form.getAttribute("action"), "/connect/start");
    const hidden = Object.fromEntries(form.querySelectorAll("input[type=hidden]").map((i) => [i.getAttribute("name"), i.getAttribute("value")]));
    assert.deepEqual(hidden, { connect: url.searchParams.get("connect") });
    const input = form.querySelector("input[type=search]")!;
    assert.equal(root.querySelector(`label[for=${input.getAttribute("id")}]`)?.text, "Search services", "the box is labelled");
    assert.equal(input.getAttribute("name"), "search");
  });

  it("searching filters by name, case-insensitively, and stays in the attempt", async () => {
    const { root, url } = await picker(request(), "DRIVE");
    assert.deepEqual(names(root), ["Globex Drive"]);
    assert.match(root.querySelector("[role=status]")?.text ?? "", /1 of 3 services match “DRIVE”/);
    assert.equal(root.querySelector("input[type=search]")?.getAttribute("value"), "DRIVE");
    const link = new URL(choices(root)[0]!.getAttribute("href")!, broker.url);
    assert.equal(link.searchParams.get("connector"), "globex");
    assert.equal(link.searchParams.get("search"), null, "the search is not carried into the connect");
    assert.equal(link.searchParams.get("connect"), url.searchParams.get("connect"));
  });

  it("a search that matches nothing says so and offers every service again", async () => {
    const { root, url } = await picker(request(), "<script>nothing");
    assert.deepEqual(names(root), []);
    const status = root.querySelector("[role=status]")!;
    assert.match(status.text, /No service matches “<script>nothing”/);
    assert.equal(root.querySelectorAll("script").length, 0, "the search text is escaped");
    const all = new URL(status.querySelector("a")!.getAttribute("href")!, broker.url);
    assert.equal(all.searchParams.get("search"), null);
    assert.equal(all.searchParams.get("connect"), url.searchParams.get("connect"));
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

  it("a service whose connector file describes its scopes says what they allow in words, not upstream scope strings", async () => {
    // (What the consent list says for a connector scope the app names: test/unit/connect/consent.test.ts.)
    const { root } = await picker(request());
    const initech = choices(root).find((c) => c.querySelector(".choice-name")?.text === "Initech Files")!;
    assert.equal(initech.querySelector(".choice-how")?.text, "Sign in at Initech Files · See your files and folders");
  });
});
