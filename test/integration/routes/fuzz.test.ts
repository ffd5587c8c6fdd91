/**
 * Fuzzing every endpoint a client can reach (issue 9): at least 10,000
 * generated malformed requests — bad, missing and repeated parameters, wrong
 * content types, 1 MB bodies and 10 KB parameters, broken percent-encoding
 * and UTF-8, malformed JWTs, client assertions and Basic headers, odd
 * methods, deeply nested JSON — to the OAuth endpoints, the connect and
 * device pages (also inside real sessions, with their cookie and CSRF token),
 * the admin API, the accounts API and the proxy.
 *
 * Every answer must be a well-formed refusal from the broker: never a 5xx;
 * on the APIs JSON with an `error`; on the browser pages an HTML error page,
 * or a redirect to the broker, the upstream, or the app's redirect URI with
 * `error`. Afterwards /readyz is 200, the broker still issues tokens and the
 * process's memory has not run away.
 *
 * The run is seeded: the seed is printed, and `FUZZ_SEED=<seed>` runs the
 * same requests again (`FUZZ_COUNT` changes how many).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, Agent, type Server } from "node:http";
import { once } from "node:events";
import { randomInt } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { parse } from "node-html-parser";
import * as client from "openid-client";
import { reserveBrokerUrl, startTestBroker, type TestBroker } from "../../support/broker.js";
import { startOAuth2Upstream, type OAuth2Upstream } from "../../support/oauth2-upstream.js";
import { connectTestAccount, registerTestApp, TEST_APP_REDIRECT, type TestApp } from "../../support/flow.js";
import { TestBrowser } from "../../support/browser.js";
import { accountToken, storeTestAccount } from "../../support/api-upstream.js";
import { basic, send, type ReceivedResponse } from "../../support/raw-http.js";
import { Random, badHeaderValue, badValue, brokenBasic, deeplyNestedJson, malformedJwt, requestSeed } from "../../support/fuzz.js";
import { ADMIN_OPERATIONS } from "../../../src/admin/operations.js";
import { CLIENT_ASSERTION_TYPE } from "../../../src/oauth/client-auth.js";

const SEED = Number(process.env.FUZZ_SEED ?? randomInt(2 ** 31));
const COUNT = Number(process.env.FUZZ_COUNT ?? 10_000);
/** `FUZZ_ONLY=12,907` sends only these requests of the run (with FUZZ_SEED), each on a connection of its own, and prints the answers. */
const ONLY = process.env.FUZZ_ONLY?.split(",").map(Number);
const CONCURRENCY = 16;
/** The run stops generating after this long (it must still reach COUNT to pass). */
const TIME_BUDGET_MS = 75_000;
const ADMIN_TOKEN = "fuzz-admin-token-0123456789abcdef0123456789";
const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

/** Everything the generators may use: real identifiers and tokens, so requests get past the first checks. */
interface Material {
  brokerUrl: string;
  upstreamUrl: string;
  app: TestApp;
  publicAppId: string;
  deviceAppId: string;
  jwtApp: { id: string; assertion: () => Promise<string> };
  signedAssertions: string[];
  accountId: string;
  accountAccessToken: string;
  refreshToken: string;
  idToken: string;
  clientToken: string;
  keyedAccountId: string;
  keyedToken: string;
  formSessions: { path: string; cookie: string; csrf: string; fields: string[] }[];
  deviceSessions: { cookie: string; csrf: string; userCode: string }[];
}

interface FuzzRequest {
  target: string;
  kind: "api" | "browser";
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body?: Buffer;
  huge?: boolean;
}

type Param = [name: string, value: string, raw: boolean];

/** encodeURIComponent that takes lone surrogates too (as U+FFFD, what a UTF-8 encoder writes for them). */
function enc(value: string): string {
  return encodeURIComponent(value.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd"));
}

/** `name=value&…`: encoded, or raw (a broken escape or latin-1 bytes reach the server as they are). */
function encodeParams(params: Param[]): Buffer {
  const parts = params.map(([name, value, raw]) => {
    const text = raw ? `${name}=${value}` : `${enc(name)}=${enc(value)}`;
    return /^[\u0000-\u00ff]*$/.test(text) ? Buffer.from(text, "latin1") : Buffer.from(text, "utf8");
  });
  return Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [p] : [Buffer.from("&"), p])));
}

/** A query string Node will send: raw values keep their bytes where the request line allows them. */
function queryString(params: Param[]): string {
  return params
    .map(([name, value, raw]) => {
      if (!raw) return `${enc(name)}=${enc(value)}`;
      return `${name}=${value}`.replace(/[^\u0021-\u00ff]|#/gu, (c) => enc(c).replace(/%25/g, "%"));
    })
    .join("&");
}

/** Turns a plausible request into a malformed one, one to four mutations at a time. */
function mutateParams(r: Random, params: Param[], m: Material): Param[] {
  const out = params.map((p) => [...p] as Param);
  for (let n = 1 + r.int(4); n > 0; n--) {
    const i = out.length ? r.int(out.length) : 0;
    switch (r.int(9)) {
      case 0:
        out.splice(i, 1);
        break;
      case 1:
        if (out[i]) out.push([out[i]![0], r.chance(0.5) ? out[i]![1] : badValue(r), false]);
        break;
      case 2:
        if (out[i]) out[i]![1] = badValue(r);
        break;
      case 3:
        if (out[i]) {
          out[i]![1] = badValue(r);
          out[i]![2] = true;
        }
        break;
      case 4:
        out.push([r.pick(["foo", "a[b]", "a[]", "__proto__", "constructor[prototype]", "", "=", "x".repeat(1000)]), badValue(r), r.chance(0.3)]);
        break;
      case 5:
        if (out[i]) out[i]![0] = `${out[i]![0]}${r.pick(["[]", "[x]", "[0][1]", ".x", "%00"])}`;
        break;
      case 6:
        if (out[i]) out[i]![1] = "A".repeat(10 * 1024);
        break;
      case 7:
        if (out[i]) out[i]![1] = malformedJwt(r, r.pick([m.accountAccessToken, m.clientToken, m.idToken]));
        break;
      default:
        out.push([r.pick(["client_id", "grant_type", "token", "scope", "redirect_uri", "state", "code", "csrf"]), badValue(r), r.chance(0.3)]);
    }
  }
  return out;
}

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "PROPFIND", "SEARCH", "PURGE", "REPORT", "MKCOL", "LINK"];
const CONTENT_TYPES = [
  "application/x-www-form-urlencoded",
  "application/x-www-form-urlencoded; charset=utf-8",
  "application/x-www-form-urlencoded; charset=latin1",
  "application/x-www-form-urlencoded; charset=utf-16",
  "application/json",
  "application/json; charset=utf-32",
  "text/plain",
  "multipart/form-data; boundary=x",
  "multipart/form-data",
  "application/xml",
  "application/x-www-form-urlencoded, application/json",
  ";;;",
  "*/*",
  "",
];

/** Headers and body for `params` as a client might (mis)send them. */
function encodeBody(
  r: Random,
  params: Param[],
  baseType = "application/x-www-form-urlencoded",
): { headers: Record<string, string>; body: Buffer; huge?: boolean } {
  const roll = r.int(20);
  if (roll === 0)
    return {
      headers: { "content-type": r.pick(["application/json", "application/x-www-form-urlencoded"]) },
      body: Buffer.from(deeplyNestedJson(2_000 + r.int(8_000), r)),
      huge: true,
    };
  if (roll === 1 && r.chance(0.4)) {
    // 1 MB: more than any endpoint takes.
    const filler = r.chance(0.5) ? Buffer.alloc(1024 * 1024, "a") : Buffer.from(`a=${"b".repeat(1024 * 1024)}`);
    return { headers: { "content-type": baseType }, body: filler, huge: true };
  }
  if (roll === 2)
    return {
      headers: { "content-type": "application/json" },
      body: Buffer.from(JSON.stringify(Object.fromEntries(params.map(([k, v]) => [k, r.chance(0.3) ? { $ne: v, nested: [v] } : v])))),
    };
  if (roll === 3)
    return {
      headers: { "content-type": "application/json" },
      body: Buffer.from(r.pick(['{"a":', "[1,2", "nul", '{"__proto__":{"admin":true}}', "\u0000", '"x"'])),
    };
  if (roll === 4) return { headers: { "content-type": baseType }, body: Buffer.from(r.bytes(1 + r.int(2048)), "latin1") };
  if (roll === 5) return { headers: { "content-type": r.pick(CONTENT_TYPES) }, body: encodeParams(params) };
  if (roll === 6)
    return { headers: { "content-type": baseType, "content-encoding": r.pick(["gzip", "deflate", "br", "identity", "x-bogus"]) }, body: encodeParams(params) };
  if (roll === 7) return { headers: {}, body: encodeParams(params) };
  return { headers: { "content-type": baseType }, body: encodeParams(params) };
}

/** An Authorization header: mostly plausible, often broken. */
function clientAuthorization(r: Random, m: Material): string | undefined {
  switch (r.int(8)) {
    case 0:
    case 1:
      return basic(m.app.id, m.app.secret);
    case 2:
      return brokenBasic(r, m.app.id, m.app.secret);
    case 3:
      return `Bearer ${malformedJwt(r, m.clientToken)}`;
    case 4:
      return r.pick(["Digest x", "Negotiate", "Bearer", "Bearer  ", "DPoP x", "x".repeat(3000), `Basic ${basic(m.app.id, m.app.secret)}`]);
    default:
      return undefined;
  }
}

function withAuth(headers: Record<string, string | string[]>, authorization: string | undefined, r: Random): Record<string, string | string[]> {
  if (authorization === undefined) return headers;
  // Now and then the header twice.
  return { ...headers, authorization: r.chance(0.05) ? [authorization, "Basic eDp5"] : authorization };
}

/** Random headers clients send wrongly: origins, cookies, forwarded addresses. */
function noiseHeaders(r: Random): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let n = r.int(3); n > 0; n--) {
    headers[r.pick(["origin", "cookie", "accept", "x-forwarded-for", "x-forwarded-proto", "x-request-id", "referer", "accept-language", "dpop", "te"])] =
      r.chance(0.5) ? badHeaderValue(r) : badValue(r).replace(/[^\u0020-\u007e]/g, "");
  }
  return headers;
}

function clientAssertion(r: Random, m: Material): string {
  return r.chance(0.5) ? r.pick(m.signedAssertions) : malformedJwt(r, r.pick(m.signedAssertions));
}

// ── one generator per endpoint ──────────────────────────────────────────────

function tokenRequest(r: Random, m: Material): FuzzRequest {
  const grant = r.pick([
    "client_credentials",
    "authorization_code",
    "refresh_token",
    DEVICE_GRANT,
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "password",
    "implicit",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
  ]);
  const params: Param[] = [["grant_type", grant, false]];
  if (grant === "authorization_code")
    params.push(
      ["code", r.chance(0.5) ? r.string(43) : badValue(r), false],
      ["redirect_uri", TEST_APP_REDIRECT, false],
      ["code_verifier", r.string(43 + r.int(90)), false],
    );
  if (grant === "refresh_token") params.push(["refresh_token", r.chance(0.3) ? m.refreshToken : badValue(r), false]);
  if (grant === DEVICE_GRANT) params.push(["device_code", badValue(r), false]);
  if (grant.endsWith("token-exchange"))
    params.push(
      ["subject_token", r.pick([m.accountAccessToken, m.clientToken, badValue(r)]), false],
      ["subject_token_type", "urn:ietf:params:oauth:token-type:access_token", false],
    );
  if (r.chance(0.5)) params.push(["scope", r.pick(["proxy", "accounts:read", "openid", badValue(r)]), false]);
  let authorization = clientAuthorization(r, m);
  if (authorization === undefined) {
    const style = r.int(3);
    if (style === 0) params.push(["client_id", m.app.id, false], ["client_secret", r.chance(0.5) ? m.app.secret : badValue(r), false]);
    if (style === 1) params.push(["client_id", r.pick([m.publicAppId, m.deviceAppId, badValue(r)]), false]);
    if (style === 2) {
      params.push(["client_assertion_type", r.chance(0.8) ? CLIENT_ASSERTION_TYPE : badValue(r), false], ["client_assertion", clientAssertion(r, m), false]);
      if (r.chance(0.3)) params.push(["client_id", m.jwtApp.id, false]);
    }
  } else if (r.chance(0.1)) authorization = undefined;
  const method = r.chance(0.93) ? "POST" : r.pick(METHODS);
  const body = encodeBody(r, mutateParams(r, params, m));
  return {
    target: "token",
    kind: "api",
    method,
    path: r.chance(0.05) ? r.pick(["/oauth/token/", "/oauth//token", "/oauth/token?grant_type=client_credentials", "/oauth/%74oken"]) : "/oauth/token",
    headers: withAuth({ ...body.headers, ...noiseHeaders(r) }, authorization, r),
    body: body.body,
    huge: body.huge,
  };
}

function backChannelRequest(r: Random, m: Material, path: "/oauth/introspect" | "/oauth/revoke"): FuzzRequest {
  const params: Param[] = [["token", r.pick([m.accountAccessToken, m.clientToken, m.refreshToken, m.idToken, badValue(r)]), false]];
  if (r.chance(0.5)) params.push(["token_type_hint", r.pick(["access_token", "refresh_token", "id_token", badValue(r)]), false]);
  const authorization = r.chance(0.7) ? clientAuthorization(r, m) : undefined;
  if (authorization === undefined && r.chance(0.6))
    params.push(["client_id", m.app.id, false], ["client_secret", r.chance(0.5) ? m.app.secret : badValue(r), false]);
  const body = encodeBody(r, mutateParams(r, params, m));
  return {
    target: path.slice(7),
    kind: "api",
    method: r.chance(0.9) ? "POST" : r.pick(METHODS),
    path,
    headers: withAuth({ ...body.headers, ...noiseHeaders(r) }, authorization, r),
    body: body.body,
    huge: body.huge,
  };
}

function userinfoRequest(r: Random, m: Material): FuzzRequest {
  const token = r.chance(0.3) ? m.accountAccessToken : malformedJwt(r, r.pick([m.accountAccessToken, m.clientToken]));
  const style = r.int(4);
  const headers: Record<string, string | string[]> = noiseHeaders(r);
  let path = "/oauth/userinfo";
  let body: Buffer | undefined;
  if (style === 0) headers.authorization = `Bearer ${token}`;
  if (style === 1) headers.authorization = r.pick([`bearer ${token}`, `Bearer ${token} extra`, "Bearer", `Basic ${token}`, `Bearer ${"A".repeat(8000)}`]);
  if (style === 2) {
    const encoded = encodeBody(r, mutateParams(r, [["access_token", token, false]], m));
    Object.assign(headers, encoded.headers);
    body = encoded.body;
  }
  if (style === 3) path += `?${queryString(mutateParams(r, [["access_token", token, false]], m))}`;
  return { target: "userinfo", kind: "api", method: body ? "POST" : r.pick(["GET", "GET", "POST", ...METHODS]), path, headers, body };
}

function deviceAuthorizationRequest(r: Random, m: Material): FuzzRequest {
  const params: Param[] = [["client_id", r.pick([m.deviceAppId, m.app.id, badValue(r)]), false]];
  if (r.chance(0.5)) params.push(["scope", r.pick(["proxy", "gh:user", "openid offline_access", badValue(r)]), false]);
  if (r.chance(0.3)) params.push(["connector", r.pick(["gh", "keys", "hosted", badValue(r)]), false]);
  const body = encodeBody(r, mutateParams(r, params, m));
  return {
    target: "device_authorization",
    kind: "api",
    method: r.chance(0.9) ? "POST" : r.pick(METHODS),
    path: "/oauth/device_authorization",
    headers: withAuth({ ...body.headers, ...noiseHeaders(r) }, r.chance(0.2) ? clientAuthorization(r, m) : undefined, r),
    body: body.body,
    huge: body.huge,
  };
}

function authorizeRequest(r: Random, m: Material): FuzzRequest {
  const params: Param[] = [
    ["client_id", r.pick([m.app.id, m.app.id, m.publicAppId, badValue(r)]), false],
    ["redirect_uri", r.chance(0.7) ? TEST_APP_REDIRECT : badValue(r), false],
    ["response_type", r.chance(0.6) ? "code" : badValue(r), false],
    ["scope", r.pick(["openid proxy", "proxy offline_access", "gh:user", badValue(r)]), false],
    ["state", r.string(16), false],
  ];
  if (r.chance(0.6))
    params.push(["code_challenge", r.chance(0.7) ? r.string(43) : badValue(r), false], ["code_challenge_method", r.chance(0.7) ? "S256" : badValue(r), false]);
  for (const name of [
    "connector",
    "nonce",
    "response_mode",
    "prompt",
    "max_age",
    "hostname",
    "login_hint",
    "request",
    "request_uri",
    "claims",
    "id_token_hint",
    "acr_values",
    "q",
  ]) {
    if (r.chance(0.12))
      params.push([
        name,
        name === "connector"
          ? r.pick(["gh", "keys", "hosted", badValue(r)])
          : name === "hostname"
            ? r.pick(["127.0.0.1", "127.0.0.5", badValue(r)])
            : badValue(r),
        false,
      ]);
  }
  const mutated = mutateParams(r, params, m);
  if (r.chance(0.15)) {
    const body = encodeBody(r, mutated);
    return {
      target: "authorize",
      kind: "browser",
      method: "POST",
      path: "/oauth/authorize",
      headers: { ...body.headers, ...noiseHeaders(r) },
      body: body.body,
      huge: body.huge,
    };
  }
  return {
    target: "authorize",
    kind: "browser",
    method: r.chance(0.9) ? "GET" : r.pick(METHODS),
    path: `/oauth/authorize?${queryString(mutated)}`,
    headers: noiseHeaders(r),
  };
}

function callbackRequest(r: Random, m: Material): FuzzRequest {
  const params: Param[] = [["state", r.chance(0.5) ? r.string(43) : badValue(r), false]];
  if (r.chance(0.7)) params.push(["code", badValue(r), false]);
  if (r.chance(0.3)) params.push(["error", r.pick(["access_denied", "server_error", badValue(r)]), false], ["error_description", badValue(r), false]);
  if (r.chance(0.2)) params.push(["iss", r.pick([m.upstreamUrl, badValue(r)]), false]);
  const headers = noiseHeaders(r);
  if (r.chance(0.3)) headers.cookie = `${r.pick(["ab_connect", "ab_device", "ab_session", "x"])}=${badValue(r).replace(/[^\u0021-\u007e]/g, "")}`;
  return {
    target: "connect_callback",
    kind: "browser",
    method: r.chance(0.9) ? "GET" : r.pick(METHODS),
    path: `/connect/callback?${queryString(mutateParams(r, params, m))}`,
    headers,
  };
}

/** The hostname and credential pages, mostly inside a real session (its cookie and CSRF token), so the field checks run. */
function connectFormRequest(r: Random, m: Material): FuzzRequest {
  const session = r.pick(m.formSessions);
  const inSession = r.chance(0.7);
  const params: Param[] = [["csrf", r.chance(0.8) ? session.csrf : badValue(r), false]];
  for (const field of session.fields)
    if (r.chance(0.9)) params.push([field, field === "hostname" ? r.pick(["127.0.0.1", "127.0.0.9:1", "localhost", badValue(r)]) : badValue(r), false]);
  const headers: Record<string, string> = { ...noiseHeaders(r) };
  if (inSession) headers.cookie = session.cookie;
  if (r.chance(0.3)) headers.origin = r.pick([m.brokerUrl, "null", "http://evil.example", badHeaderValue(r)]);
  const path = r.chance(0.8) ? session.path : `${session.path.split("?")[0]}?${queryString(mutateParams(r, [["connect", r.string(20), false]], m))}`;
  if (r.chance(0.25)) return { target: "connect_form", kind: "browser", method: r.pick(["GET", "GET", ...METHODS]), path, headers };
  const body = encodeBody(r, mutateParams(r, params, m));
  return { target: "connect_form", kind: "browser", method: "POST", path, headers: { ...body.headers, ...headers }, body: body.body, huge: body.huge };
}

function devicePageRequest(r: Random, m: Material): FuzzRequest {
  const session = r.pick(m.deviceSessions);
  const headers: Record<string, string> = { ...noiseHeaders(r) };
  if (r.chance(0.7)) headers.cookie = session.cookie;
  if (r.chance(0.3)) headers.origin = r.pick([m.brokerUrl, "null", "http://evil.example"]);
  if (r.chance(0.3))
    return {
      target: "device_page",
      kind: "browser",
      method: r.pick(["GET", "GET", ...METHODS]),
      path: `/device?${queryString(mutateParams(r, [["user_code", r.chance(0.5) ? session.userCode : badValue(r), false]], m))}`,
      headers,
    };
  const params: Param[] = [
    ["csrf", r.chance(0.8) ? session.csrf : badValue(r), false],
    ["user_code", r.chance(0.5) ? session.userCode : badValue(r), false],
  ];
  const decision = r.chance(0.4);
  if (decision) params.push(["decision", r.pick(["allow", "deny", badValue(r)]), false], ["connector", r.pick(["gh", "keys", badValue(r)]), false]);
  const body = encodeBody(r, mutateParams(r, params, m));
  return {
    target: "device_page",
    kind: "browser",
    method: "POST",
    path: decision ? "/device/decision" : "/device",
    headers: { ...body.headers, ...headers },
    body: body.body,
    huge: body.huge,
  };
}

function fillAdminPath(r: Random, path: string, m: Material, safe: boolean): string {
  return path.replace(/\{(\w+)\}/g, (_all, name: string) => {
    const real = name === "id" && safe ? r.pick([m.accountId, m.app.id, "gh", "keys"]) : undefined;
    const value = real ?? badValue(r);
    return value.replace(/[^\u0021-\u00ff]|[/?#]/gu, (c) => enc(c));
  });
}

function adminRequest(r: Random, m: Material): FuzzRequest {
  const op = r.pick(ADMIN_OPERATIONS);
  const method = r.chance(0.85) ? op.method.toUpperCase() : r.pick(METHODS);
  // Real ids only where nothing is destroyed: the fuzz must not delete its own app mid-run
  // (the method actually sent decides: a GET path sent as DELETE deletes).
  const safe = method === "GET" || method === "HEAD";
  let path = `/admin/v1${fillAdminPath(r, op.path, m, safe)}`;
  if (r.chance(0.1))
    path = `/admin/v1/${r.pick(["openapi.json", "nope", "apps/../accounts", "%2e%2e/metrics", "apps//x", "accounts?limit=-1", badValue(r).replace(/[^\u0021-\u00ff]|[?#]/gu, enc)])}`;
  if (r.chance(0.4))
    path += `${path.includes("?") ? "&" : "?"}${queryString(
      mutateParams(
        r,
        [
          ["limit", r.pick(["1", "500", "-1", "x"]), false],
          ["cursor", badValue(r), false],
          ["app", badValue(r), false],
        ],
        m,
      ),
    )}`;
  const token = r.int(10);
  const authorization =
    token < 7
      ? `Bearer ${ADMIN_TOKEN}`
      : token === 7
        ? `Bearer ${malformedJwt(r, m.clientToken)}`
        : token === 8
          ? brokenBasic(r, "admin", ADMIN_TOKEN)
          : undefined;
  const headers: Record<string, string | string[]> = withAuth(noiseHeaders(r), authorization, r);
  let body: Buffer | undefined;
  let huge = false;
  if (method !== "GET" && method !== "HEAD") {
    const roll = r.int(6);
    const fields: Record<string, unknown> = {};
    for (const name of [
      "name",
      "redirect_uris",
      "scopes",
      "grant_types",
      "client_id",
      "client_secret",
      "is_public",
      "connectors",
      "jwks",
      "webhook_url",
      "access_token_ttl",
    ]) {
      if (r.chance(0.3)) fields[name] = r.pick([badValue(r), [badValue(r)], 12, null, true, { a: badValue(r) }, Array(50).fill("x")]);
    }
    if (roll <= 2) {
      headers["content-type"] = "application/json";
      body = Buffer.from(JSON.stringify(fields));
    } else if (roll === 3) {
      headers["content-type"] = "application/json";
      body = Buffer.from(deeplyNestedJson(5_000, r));
    } else if (roll === 4 && r.chance(0.3)) {
      headers["content-type"] = "application/json";
      body = Buffer.from(JSON.stringify({ name: "x".repeat(1024 * 1024) }));
      huge = true;
    } else {
      const encoded = encodeBody(r, [["name", badValue(r), r.chance(0.3)]], "application/json");
      Object.assign(headers, encoded.headers);
      body = encoded.body;
      huge = Boolean(encoded.huge);
    }
  }
  return { target: "admin", kind: "api", method, path, headers, body, huge };
}

function accountsRequest(r: Random, m: Material): FuzzRequest {
  const id = r.pick([m.accountId, m.keyedAccountId, badValue(r).replace(/[^\u0021-\u00ff]|[/?#]/gu, enc), "x".repeat(200)]);
  let path = r.chance(0.5) ? "/v1/accounts" : `/v1/accounts/${id}`;
  if (r.chance(0.5))
    path += `?${queryString(
      mutateParams(
        r,
        [
          ["limit", r.pick(["1", "200", "201", "0", "abc"]), false],
          ["status", r.pick(["active", "x"]), false],
          ["cursor", badValue(r), false],
          ["connector", badValue(r), false],
        ],
        m,
      ),
    )}`;
  const token = r.pick([m.clientToken, m.accountAccessToken, m.keyedToken, malformedJwt(r, m.clientToken)]);
  const authorization = r.chance(0.85) ? `Bearer ${token}` : clientAuthorization(r, m);
  // DELETE only with a token that may not delete (no accounts:write): the fuzz keeps its accounts.
  const method = r.chance(0.8) ? "GET" : r.pick(["DELETE", "POST", "PUT", "HEAD", "OPTIONS", "PATCH"]);
  const headers = withAuth(noiseHeaders(r), method === "DELETE" ? `Bearer ${malformedJwt(r, m.clientToken)}` : authorization, r);
  return { target: "accounts", kind: "api", method, path, headers };
}

function proxyRequest(r: Random, m: Material): FuzzRequest {
  const segment = () =>
    r.pick([
      "echo",
      "x",
      "..",
      "%2e%2e",
      "%2F",
      "",
      ".",
      "%00",
      "a".repeat(2000),
      "%E0%A4%A",
      "ü",
      "~",
      "%252e%252e",
      badValue(r).replace(/[^\u0021-\u00ff]|[/?#]/gu, enc),
    ]);
  const rest = Array.from({ length: 1 + r.int(4) }, segment).join("/");
  const query = r.chance(0.3) ? `?${queryString(mutateParams(r, [["q", "1", false]], m))}` : "";
  const accountBound = r.chance(0.6);
  const path = accountBound ? `/v1/proxy/${rest}${query}` : `/v1/accounts/${r.chance(0.8) ? m.keyedAccountId : r.string(12)}/proxy/${rest}${query}`;
  const good = accountBound ? r.pick([m.keyedToken, m.accountAccessToken]) : m.clientToken;
  const authorization = r.chance(0.75) ? `Bearer ${good}` : r.chance(0.5) ? `Bearer ${malformedJwt(r, good)}` : clientAuthorization(r, m);
  const headers: Record<string, string | string[]> = withAuth(noiseHeaders(r), authorization, r);
  if (r.chance(0.2))
    headers[r.pick(["connection", "keep-alive", "upgrade", "proxy-authorization", "x-forwarded-host", "host", "expect"])] = r.pick([
      "close",
      "x-api-key",
      "websocket",
      "timeout=1",
      "evil.example",
      "100-continue",
    ]);
  const method = r.pick(["GET", "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "PROPFIND"]);
  let body: Buffer | undefined;
  let huge = false;
  if (method !== "GET" && method !== "HEAD" && r.chance(0.6)) {
    const encoded = encodeBody(r, [["a", badValue(r), false]], r.pick(["application/json", "application/octet-stream", "text/plain"]));
    Object.assign(headers, encoded.headers);
    body = encoded.body;
    huge = Boolean(encoded.huge);
  }
  return { target: "proxy", kind: "api", method, path, headers, body, huge };
}

const GENERATORS: [weight: number, make: (r: Random, m: Material) => FuzzRequest][] = [
  [20, tokenRequest],
  [6, (r, m) => backChannelRequest(r, m, "/oauth/introspect")],
  [5, (r, m) => backChannelRequest(r, m, "/oauth/revoke")],
  [5, userinfoRequest],
  [6, deviceAuthorizationRequest],
  [12, authorizeRequest],
  [6, callbackRequest],
  [8, connectFormRequest],
  [6, devicePageRequest],
  [10, adminRequest],
  [6, accountsRequest],
  [10, proxyRequest],
];
const TOTAL_WEIGHT = GENERATORS.reduce((sum, [w]) => sum + w, 0);

function generateRequest(index: number, m: Material): FuzzRequest {
  const r = new Random(requestSeed(SEED, index));
  let roll = r.int(TOTAL_WEIGHT);
  for (const [weight, make] of GENERATORS) {
    if (roll < weight) return make(r, m);
    roll -= weight;
  }
  throw new Error("unreachable");
}

// ── what counts as a well-formed answer ─────────────────────────────────────

function isHtml(res: ReceivedResponse): boolean {
  return /^text\/html/.test(String(res.headers["content-type"] ?? ""));
}

function jsonError(res: ReceivedResponse): string | undefined {
  if (!/^application\/json/.test(String(res.headers["content-type"] ?? ""))) return undefined;
  const body = res.json<{ error?: unknown }>();
  return typeof body?.error === "string" ? body.error : undefined;
}

/** Why this answer is not a well-formed one, or undefined if it is. */
function judge(req: FuzzRequest, res: ReceivedResponse, m: Material): string | undefined {
  if (res.status >= 500) return `status ${res.status}`;
  if (req.method === "HEAD") return undefined;
  if (req.method === "OPTIONS" && (res.status === 204 || res.status === 200)) return undefined;
  const location = res.headers.location;
  if (res.status >= 300 && res.status < 400) {
    if (!location) return "a redirect without Location";
    if (req.kind === "api") return `an API redirected to ${location}`;
    const target = new URL(location, m.brokerUrl);
    if (target.origin === new URL(m.brokerUrl).origin) return undefined;
    if (location.startsWith(m.upstreamUrl) || target.hostname === "127.0.0.5" || target.hostname === "127.0.0.1") {
      // The connect flow sent the browser to the upstream (or a per-server upstream on 127.0.0.0/8).
      // Back at the app: an error, or a code when a fuzzed form happened to be a valid submission.
      if (location.startsWith(TEST_APP_REDIRECT))
        return /[?#&](error|code)=/.test(location) ? undefined : `a redirect to the app without error or code: ${location}`;
      return undefined;
    }
    return `a redirect to a foreign origin: ${location}`;
  }
  if (res.status >= 400) {
    if (jsonError(res) !== undefined) return undefined;
    if (req.kind === "browser" && isHtml(res)) return /Error code|role="alert"|error/i.test(res.text) ? undefined : "an HTML error page without an error";
    return `a ${res.status} that is not a well-formed error (${String(res.headers["content-type"])}): ${res.text.slice(0, 120)}`;
  }
  // 2xx: the APIs answer JSON (or nothing), the pages HTML.
  if (res.body.length === 0) return undefined;
  if (req.kind === "api" && res.json() === undefined && req.target !== "proxy") return `a ${res.status} API answer that is not JSON: ${res.text.slice(0, 120)}`;
  if (req.kind === "browser" && !isHtml(res)) return `a ${res.status} page that is not HTML (${String(res.headers["content-type"])})`;
  return undefined;
}

function describeRequest(index: number, req: FuzzRequest): string {
  const body = req.body ? ` body(${req.body.length} B)=${JSON.stringify(req.body.subarray(0, 160).toString("latin1"))}` : "";
  return `#${index} ${req.method} ${req.path.slice(0, 200)} headers=${JSON.stringify(req.headers).slice(0, 300)}${body}`;
}

// ── the run ─────────────────────────────────────────────────────────────────

/** An upstream API that answers 200 to anything: every 5xx the fuzz sees is the broker's own. */
async function startAnythingGoesApi(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: "fuzz-user", ok: true }));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

describe(`fuzzing every endpoint (seed ${SEED})`, () => {
  let upstream: OAuth2Upstream;
  let api: { server: Server; url: string };
  let broker: TestBroker;
  let material: Material;
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

  before(async () => {
    // Printed before anything can fail: FUZZ_SEED=<seed> repeats this run.
    console.log(`fuzz seed ${SEED} (repeat with FUZZ_SEED=${SEED}), ${COUNT} requests`);
    const reserved = await reserveBrokerUrl();
    upstream = await startOAuth2Upstream({
      clients: [{ client_id: "fz", client_secret: "fz-secret-0123456789", redirect_uris: [reserved.callbackUrl("gh")] }],
    });
    api = await startAnythingGoesApi();
    const oauth2 = (id: string, authorizationUrl: string, tokenUrl: string) => ({
      id,
      name: id,
      auth: { kind: "oauth2", authorizationUrl, tokenUrl, clientId: "fz", clientSecret: "fz-secret-0123456789" },
      scopes: { user: ["read:user"] },
      defaultScopes: ["user"],
      api: { baseUrl: upstream.apiUrl, credentials: "bearer" },
      identity: { url: upstream.userUrl, subject: "id", email: "email", name: "name" },
    });
    const port = new URL(upstream.url).port;
    broker = await startTestBroker({
      port: reserved.port,
      // Limits far above what the fuzz sends: the requests must reach the handlers (the limiter still runs).
      env: { RATE_LIMIT_PER_IP: "1000000", RATE_LIMIT_PER_CLIENT: "1000000", BROKER_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: "warn" },
      connectors: {
        "gh.json": oauth2("gh", upstream.authorizationUrl, upstream.tokenUrl),
        "hosted.json": {
          ...oauth2("hosted", `http://{hostname}:${port}/login/oauth/authorize`, `http://{hostname}:${port}/login/oauth/access_token`),
          // Only loopback literals match: a fuzzed hostname never reaches DNS.
          hostname: { pattern: "^127\\.0\\.0\\.[0-9]{1,3}$" },
          api: { baseUrl: `http://{hostname}:${port}/api`, credentials: "bearer" },
          identity: { url: `http://{hostname}:${port}/user`, subject: "id" },
        },
        "keys.json": {
          id: "keys",
          name: "Keyed",
          auth: { kind: "api_key", fields: [{ name: "apiKey", label: "API key", secret: true }] },
          api: { baseUrl: api.url, credentials: "header:X-Api-Key" },
          identity: { url: `${api.url}/me`, subject: "id" },
        },
      },
    });
    const app = await registerTestApp(broker, ["openid", "email", "profile", "offline_access", "proxy", "accounts:read"]);
    const connected = await connectTestAccount(app, "gh", "openid proxy offline_access accounts:read");
    const publicApp = await broker.services.clients.create({
      name: "Fuzz SPA",
      redirectUris: [TEST_APP_REDIRECT],
      isPublic: true,
      scopes: ["proxy", "openid"],
    });
    const deviceApp = await broker.services.clients.create({
      name: "Fuzz TV",
      redirectUris: [],
      isPublic: true,
      grantTypes: [DEVICE_GRANT, "refresh_token"],
      scopes: ["proxy", "offline_access"],
    });
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "fz", alg: "ES256", use: "sig" };
    const jwtApp = await broker.services.clients.create({
      name: "Fuzz JWT",
      redirectUris: [],
      grantTypes: ["client_credentials"],
      tokenEndpointAuthMethod: "private_key_jwt",
      jwks: { keys: [jwk] },
      scopes: ["proxy"],
    });
    const jwtId = jwtApp.client.id;
    const assertion = (claims: Record<string, unknown>, expSeconds = 60) =>
      new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "fz" }).setIssuedAt().setExpirationTime(`${expSeconds}s`).sign(privateKey);
    const signedAssertions = await Promise.all([
      assertion({ iss: jwtId, sub: jwtId, aud: `${broker.url}/oauth/token`, jti: "fixed-jti" }),
      assertion({ iss: jwtId, sub: jwtId, aud: "http://elsewhere.example", jti: "a" }),
      assertion({ iss: "someone", sub: jwtId, aud: broker.url, jti: "b" }),
      assertion({ iss: jwtId, sub: jwtId, aud: broker.url }),
      assertion({ iss: jwtId, sub: jwtId, aud: broker.url, jti: "c" }, 100_000),
      assertion({ iss: jwtId, sub: { x: 1 }, aud: [broker.url, 1, null], jti: ["x"] }),
      assertion({ iss: app.id, sub: app.id, aud: broker.url, jti: "d" }),
    ]);
    const cc = await send(broker.url, {
      path: "/oauth/token",
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(app.id, app.secret) },
      body: "grant_type=client_credentials&scope=proxy%20accounts%3Aread",
    });
    assert.equal(cc.status, 200, cc.text);
    const keyedAccountId = await storeTestAccount(broker.services, { appId: app.id, connectorId: "keys", tokens: { fields: { apiKey: "k-0123456789" } } });
    const keyedToken = await accountToken(broker.services, { appId: app.id, accountId: keyedAccountId, connectorId: "keys", scope: "proxy accounts:read" });

    // Sessions inside the connect pages and the device page, with their cookies and CSRF tokens.
    const formSessions: Material["formSessions"] = [];
    for (const [connector, extra] of [
      ["keys", {}],
      ["hosted", {}],
      ["keys", {}],
      ["hosted", {}],
    ] as const) {
      const browser = new TestBrowser();
      const url = client.buildAuthorizationUrl(app.config, {
        redirect_uri: TEST_APP_REDIRECT,
        scope: "proxy",
        connector,
        state: client.randomState(),
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: "S256",
        ...extra,
      });
      const page = await browser.navigate(url, { stopAt: (u) => u.href.startsWith(TEST_APP_REDIRECT) || u.origin !== new URL(broker.url).origin });
      assert.equal(page.status, 200, `the ${connector} form page: ${page.body.slice(0, 200)}`);
      const root = parse(page.body);
      const csrf = root.querySelector('input[name="csrf"]')?.getAttribute("value");
      assert.ok(csrf, `the ${connector} page has a CSRF token`);
      const fields = root
        .querySelectorAll("input")
        .map((i) => i.getAttribute("name")!)
        .filter((n) => n && n !== "csrf");
      formSessions.push({ path: page.url.pathname + page.url.search, cookie: browser.cookieHeader(page.url)!, csrf, fields });
    }
    const deviceSessions: Material["deviceSessions"] = [];
    for (let i = 0; i < 3; i++) {
      const started = await send(broker.url, {
        path: "/oauth/device_authorization",
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `client_id=${deviceApp.client.id}&scope=proxy`,
      });
      assert.equal(started.status, 200, started.text);
      const browser = new TestBrowser();
      const page = await browser.navigate(`${broker.url}/device`);
      const csrf = parse(page.body).querySelector('input[name="csrf"]')?.getAttribute("value");
      assert.ok(csrf, "the device page has a CSRF token");
      deviceSessions.push({ cookie: browser.cookieHeader(page.url)!, csrf, userCode: String(started.json<{ user_code: string }>()!.user_code) });
    }

    material = {
      brokerUrl: broker.url,
      upstreamUrl: upstream.url,
      app,
      publicAppId: publicApp.client.id,
      deviceAppId: deviceApp.client.id,
      jwtApp: { id: jwtId, assertion: () => assertion({ iss: jwtId, sub: jwtId, aud: broker.url, jti: String(Math.random()) }) },
      signedAssertions,
      accountId: connected.accountId,
      accountAccessToken: connected.tokens.access_token,
      refreshToken: connected.tokens.refresh_token!,
      idToken: String(connected.tokens.id_token),
      clientToken: String(cc.json<{ access_token: string }>()!.access_token),
      keyedAccountId,
      keyedToken,
      formSessions,
      deviceSessions,
    };
  });

  after(async () => {
    agent.destroy();
    await broker?.stop();
    await upstream?.close();
    api?.server.close();
  });

  it(`answers ${COUNT} malformed requests with well-formed errors, never a 5xx, and stays healthy`, async (t) => {
    const rssBefore = process.memoryUsage().rss;
    const started = Date.now();
    const failures: string[] = [];
    const statuses = new Map<string, Map<number, number>>();
    let sent = 0;
    let next = 0;
    let rateLimited = 0;
    let transportErrors = 0;
    let rssPeak = rssBefore;
    const addresses = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"];

    const runOne = async (index: number) => {
      const req = generateRequest(index, material);
      let res: ReceivedResponse;
      try {
        res = await send(broker.url, {
          method: req.method,
          path: req.path,
          headers: req.headers,
          body: req.body,
          agent: req.huge ? undefined : agent,
          localAddress: addresses[index % addresses.length],
          timeoutMs: 15_000,
        });
      } catch (err) {
        // A server may stop reading a body it refuses (the 1 MB ones) and close: that is an answer too.
        const code = (err as { code?: string }).code;
        if (req.huge && (code === "ECONNRESET" || code === "EPIPE")) return;
        transportErrors++;
        failures.push(`${describeRequest(index, req)}\n    → no answer: ${(err as Error).message}`);
        return;
      }
      sent++;
      const byStatus = statuses.get(req.target) ?? new Map<number, number>();
      byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
      statuses.set(req.target, byStatus);
      // The front-door limiter's refusals (the /device page's own wrong-code limit is behaviour under test, not noise).
      if (res.status === 429 && /rate_limited/.test(res.text)) rateLimited++;
      const problem = judge(req, res, material);
      if (problem) failures.push(`${describeRequest(index, req)}\n    → ${problem}; body: ${res.text.slice(0, 200)}`);
    };

    if (ONLY) {
      for (const index of ONLY) {
        const req = generateRequest(index, material);
        const res = await send(broker.url, { method: req.method, path: req.path, headers: req.headers, body: req.body });
        console.log(describeRequest(index, req), "\n  →", res.status, res.headers, res.text.slice(0, 500), "\n  judged:", judge(req, res, material) ?? "ok");
      }
      for (const line of broker.services.logs.lines.filter((l) => Number(l.level) >= 50)) console.log(JSON.stringify(line).slice(0, 3000));
      return;
    }
    const worker = async () => {
      while (next < COUNT && Date.now() - started < TIME_BUDGET_MS) {
        const index = next++;
        await runOne(index);
        if (index % 500 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const elapsedMs = Date.now() - started;
    const rssAfter = process.memoryUsage().rss;

    const summary = [...statuses].map(
      ([target, byStatus]) =>
        `${target}: ${[...byStatus]
          .sort((a, b) => a[0] - b[0])
          .map(([s, n]) => `${s}×${n}`)
          .join(" ")}`,
    );
    t.diagnostic(
      `seed ${SEED}: ${sent} answers in ${(elapsedMs / 1000).toFixed(1)} s (${Math.round(sent / (elapsedMs / 1000))}/s), ${failures.length} failures, ${rateLimited} rate limited, ${transportErrors} transport errors`,
    );
    t.diagnostic(`RSS before ${Math.round(rssBefore / 2 ** 20)} MiB, peak ${Math.round(rssPeak / 2 ** 20)} MiB, after ${Math.round(rssAfter / 2 ** 20)} MiB`);
    for (const line of summary) t.diagnostic(line);

    // What the broker logged about its failures (stack traces of 5xx), to find the code that produced them.
    for (const line of broker.services.logs.lines.filter((l) => Number(l.level) >= 50).slice(0, 10)) t.diagnostic(JSON.stringify(line).slice(0, 1500));
    assert.deepEqual(failures.slice(0, 15), [], `seed ${SEED}: ${failures.length} requests answered badly (FUZZ_SEED=${SEED} repeats them)`);
    assert.ok(next >= COUNT, `only ${next} of ${COUNT} requests were sent within ${TIME_BUDGET_MS} ms`);
    assert.ok(sent >= COUNT * 0.98, `${sent} answers of ${COUNT}`);
    assert.ok(rateLimited < COUNT * 0.01, `${rateLimited} requests were rate limited: the fuzz must reach the handlers`);
    const handled = [...statuses.values()].reduce(
      (sum, byStatus) => sum + [...byStatus].filter(([s]) => s !== 404 && s !== 405).reduce((a, [, n]) => a + n, 0),
      0,
    );
    assert.ok(handled > sent * 0.7, `most requests reach a handler (${handled} of ${sent} were not 404/405)`);

    const ready = await send(broker.url, { path: "/readyz" });
    assert.equal(ready.status, 200, `/readyz after the fuzz: ${ready.text}`);
    const token = await send(broker.url, {
      path: "/oauth/token",
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(material.app.id, material.app.secret) },
      body: "grant_type=client_credentials&scope=proxy",
    });
    assert.equal(token.status, 200, `the broker still issues tokens: ${token.text}`);
    assert.ok(rssAfter - rssBefore < 400 * 2 ** 20, `RSS grew by ${Math.round((rssAfter - rssBefore) / 2 ** 20)} MiB`);
  });
});
