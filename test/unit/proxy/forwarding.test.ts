/**
 * What crosses the proxy (issue 7): hop-by-hop and broker-only headers stay
 * behind (RFC 9110 §7.6.1), credentials are injected in the connector's
 * style, audit paths carry no identifiers, and upstream failures map to
 * 502/504.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { parseConnectorText } from "../../../src/connectors/loader.js";
import type { ConnectorConfig } from "../../../src/connectors/schema.js";
import { connectionOptions, downstreamResponseHeaders, upstreamRequestHeaders } from "../../../src/proxy/headers.js";
import { Basic, Bearer, credentialStyle, InHeader, InQuery, NoUsableCredential } from "../../../src/connectors/credential-styles.js";
import { pathTemplate } from "../../../src/proxy/path-template.js";
import { upstreamFailure } from "../../../src/proxy/upstream-failure.js";
import { BrokerError, UpstreamError } from "../../../src/errors.js";
import { isStaticCredentialChecker, loadBuiltInKinds } from "../../../src/connectors/kinds/index.js";

const kinds = await loadBuiltInKinds();

/** The values an account of the connector keeps, as its kind declares them (what the proxy asks the kind). */
function typed(c: ConnectorConfig) {
  const kind = kinds.for(c);
  return isStaticCredentialChecker(kind) ? kind.credentialFields(c) : [];
}

function connector(auth: object, credentials = "bearer"): ConnectorConfig {
  const doc = {
    id: "acme",
    name: "Acme",
    auth,
    api: { baseUrl: "https://api.acme.example/v1", credentials },
    identity: { url: "https://api.acme.example/v1/me", subject: "id" },
  };
  return parseConnectorText("acme.yaml", stringify(doc), {});
}

const oauth2 = () =>
  connector({ kind: "oauth2", authorizationUrl: "https://acme.example/authorize", tokenUrl: "https://acme.example/token", clientId: "c", clientSecret: "s" });
const apiKey = (credentials = "bearer") =>
  connector(
    {
      kind: "api_key",
      fields: [
        { name: "account", label: "Account" },
        { name: "key", label: "API key", secret: true },
      ],
    },
    credentials,
  );
const basic = (credentials = "basic") => connector({ kind: "basic" }, credentials);

describe("request headers sent upstream", () => {
  const incoming = {
    host: "broker.example",
    authorization: "Bearer broker-token",
    "proxy-authorization": "Basic eA==",
    cookie: "broker_session=1",
    connection: "keep-alive, X-Hop, Upgrade",
    "x-hop": "private to this hop",
    "keep-alive": "timeout=5",
    te: "trailers",
    "transfer-encoding": "chunked",
    upgrade: "websocket",
    "proxy-connection": "keep-alive",
    "x-forwarded-for": "10.0.0.1",
    "x-forwarded-host": "broker.example",
    "x-forwarded-proto": "https",
    forwarded: "for=10.0.0.1",
    "x-real-ip": "10.0.0.1",
    expect: "100-continue",
    "content-length": "12",
    "x-request-id": "from-the-app",
    accept: "application/json",
    "content-type": "application/json",
    "if-none-match": '"abc"',
    "x-api-key": "chosen-by-the-app",
  };

  it("drops hop-by-hop fields and every field named in Connection (RFC 9110 §7.6.1)", () => {
    const out = upstreamRequestHeaders(incoming, "req-1");
    for (const name of ["connection", "x-hop", "keep-alive", "te", "transfer-encoding", "upgrade", "proxy-connection"])
      assert.equal(out[name], undefined, name);
  });

  it("drops the broker's Authorization, cookies, client addresses and Host", () => {
    const out = upstreamRequestHeaders(incoming, "req-1");
    for (const name of [
      "authorization",
      "proxy-authorization",
      "cookie",
      "host",
      "x-forwarded-for",
      "x-forwarded-host",
      "x-forwarded-proto",
      "forwarded",
      "x-real-ip",
      "expect",
      "content-length",
    ]) {
      assert.equal(out[name], undefined, name);
    }
  });

  it("keeps end-to-end headers and sends the broker's request id", () => {
    const out = upstreamRequestHeaders(incoming, "req-1");
    assert.equal(out.accept, "application/json");
    assert.equal(out["content-type"], "application/json");
    assert.equal(out["if-none-match"], '"abc"');
    assert.equal(out["x-request-id"], "req-1");
  });

  it("drops the app's own value of the header the credential goes in", () => {
    assert.equal(upstreamRequestHeaders(incoming, "r", "x-api-key")["x-api-key"], undefined);
    assert.equal(upstreamRequestHeaders(incoming, "r")["x-api-key"], "chosen-by-the-app");
  });

  it("reads Connection options from repeated headers, case-insensitively", () => {
    assert.deepEqual([...connectionOptions(["close, X-A", " x-b "])], ["close", "x-a", "x-b"]);
  });
});

describe("response headers passed to the app", () => {
  const upstream = {
    "content-type": "application/json",
    "content-length": "42",
    "retry-after": "30",
    "x-ratelimit-limit": "5000",
    "x-ratelimit-remaining": "0",
    "x-ratelimit-reset": "1700000000",
    etag: '"v1"',
    connection: "keep-alive, X-Upstream-Hop",
    "x-upstream-hop": "1",
    "keep-alive": "timeout=5",
    "transfer-encoding": "chunked",
    "set-cookie": ["a=1", "b=2"],
    "x-request-id": "upstream-id",
    "proxy-authenticate": "Basic",
  };

  it("passes status-related and other end-to-end headers untouched", () => {
    const out = downstreamResponseHeaders(upstream);
    for (const name of ["content-type", "content-length", "retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "etag"]) {
      assert.equal(out[name], upstream[name as keyof typeof upstream], name);
    }
  });

  it("removes hop-by-hop fields, cookies for the broker's origin and the upstream's request id", () => {
    const out = downstreamResponseHeaders(upstream);
    for (const name of ["connection", "x-upstream-hop", "keep-alive", "transfer-encoding", "set-cookie", "x-request-id", "proxy-authenticate"])
      assert.equal(out[name], undefined, name);
  });

  it("sandboxes the body so upstream HTML cannot run script on the broker's origin", () => {
    const out = downstreamResponseHeaders({ "content-type": "text/html", "content-security-policy": "script-src *" });
    assert.equal(out["content-security-policy"], "default-src 'none'; sandbox");
    assert.equal(out["x-content-type-options"], "nosniff");
  });
});

describe("credential injection as api.credentials says", () => {
  const target = (search = "") => ({
    headers: {} as Record<string, string | string[]>,
    search,
    method: "GET",
    url: new URL(`https://api.example.test/v1/items${search}`),
    body: { kind: "none" } as const,
  });

  it("bearer sends the access token (RFC 6750 §2.1)", () => {
    const t = target();
    Bearer(oauth2(), typed(oauth2())).inject(t, { accessToken: "tok", refreshToken: "r" });
    assert.equal(t.headers.authorization, "Bearer tok");
  });

  it("bearer sends an api_key account's secret field", () => {
    const t = target();
    credentialStyle(apiKey(), typed(apiKey())).inject(t, { fields: { account: "acct-7", key: "sk_live" } });
    assert.equal(t.headers.authorization, "Bearer sk_live");
  });

  it("basic sends username:password of a basic account (RFC 7617)", () => {
    const t = target();
    credentialStyle(basic(), typed(basic())).inject(t, { fields: { username: "ada", password: "p:ss wörd" } });
    assert.equal(t.headers.authorization, `Basic ${Buffer.from("ada:p:ss wörd").toString("base64")}`);
  });

  it("basic sends an api_key account's non-secret and secret fields as user and password", () => {
    const t = target();
    Basic(apiKey("basic"), typed(apiKey("basic"))).inject(t, { fields: { account: "acct-7", key: "sk_live" } });
    assert.equal(t.headers.authorization, `Basic ${Buffer.from("acct-7:sk_live").toString("base64")}`);
  });

  it("basic sends a lone token as the user name with an empty password", () => {
    const t = target();
    Basic(oauth2(), typed(oauth2())).inject(t, { accessToken: "tok" });
    assert.equal(t.headers.authorization, `Basic ${Buffer.from("tok:").toString("base64")}`);
  });

  it("basic refuses a user name with a colon rather than shift the password", () => {
    assert.throws(() => Basic(basic(), typed(basic())).inject(target(), { fields: { username: "a:b", password: "p" } }), NoUsableCredential);
  });

  it("header:<Name> sends the secret in that header", () => {
    const t = target();
    const style = credentialStyle(apiKey("header:X-Api-Key"), typed(apiKey("header:X-Api-Key")));
    assert.equal(style.header, "x-api-key");
    style.inject(t, { fields: { account: "a", key: "sk_live" } });
    assert.equal(t.headers["x-api-key"], "sk_live");
  });

  it("query:<param> replaces the app's own value and keeps the rest of the query byte for byte", () => {
    const t = target("?q=a%20b&api_key=mine&fields=a,b&API_KEY=other&api%5Fkey=encoded");
    InQuery(apiKey("query:api_key"), typed(apiKey("query:api_key")), "api_key").inject(t, { fields: { account: "a", key: "s k&=" } });
    assert.equal(t.search, "?q=a%20b&fields=a,b&API_KEY=other&api_key=s%20k%26%3D");
  });

  it("an account without a usable credential is told to reconnect (409), never sent empty", () => {
    assert.throws(
      () => InHeader(apiKey(), typed(apiKey()), "X-Key").inject(target(), { fields: {} }),
      (err: unknown) => err instanceof NoUsableCredential && err.status === 409 && err.code === "account_needs_reauth",
    );
    assert.throws(() => Bearer(oauth2(), typed(oauth2())).inject(target(), {}), NoUsableCredential);
  });
});

describe("audit path templates carry no identifiers or query", () => {
  for (const [path, template] of [
    ["/repos/octo/hello/issues?state=open&token=x", "/repos/octo/hello/issues"],
    ["/files/123/content", "/files/{id}/content"],
    ["/v2/users/550e8400-e29b-41d4-a716-446655440000", "/v2/users/{id}"],
    ["/me", "/me"],
    ["/", "/"],
    ["", "/"],
    ["/a/b/c/d/e/f", "/a/b/c/d/…"],
    ["/search/ada%40example.com", "/search/{id}"],
    ["/docs/report.pdf", "/docs/{id}"],
    [`/x/${"a".repeat(40)}`, "/x/{id}"],
  ] as const) {
    it(`${JSON.stringify(path)} → ${template}`, () => assert.equal(pathTemplate(path), template));
  }
});

describe("upstream failures become 502 or 504", () => {
  const withCode = (code: string) => Object.assign(new Error("x"), { code });

  for (const code of ["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]) {
    it(`${code} → 504 upstream_timeout`, () => {
      const err = upstreamFailure(withCode(code), "Acme");
      assert.equal(err.status, 504);
      assert.equal(err.code, "upstream_timeout");
    });
  }

  for (const code of ["ECONNREFUSED", "ECONNRESET", "UND_ERR_SOCKET", "ENOTFOUND"]) {
    it(`${code} → 502 upstream_error`, () => {
      const err = upstreamFailure(new TypeError("fetch failed", { cause: withCode(code) }), "Acme");
      assert.equal(err.status, 502);
      assert.equal(err.code, "upstream_error");
      assert.ok(!err.description.includes(code), "the code is logged, not sent");
    });
  }

  it("a broker error (a forbidden address) is kept as it is", () => {
    const forbidden = new UpstreamError("acme.example resolves to a private or reserved address");
    assert.equal(upstreamFailure(forbidden, "Acme"), forbidden);
    assert.ok(upstreamFailure(forbidden, "Acme") instanceof BrokerError);
  });
});
