/**
 * Building blocks of the fuzz test (test/integration/routes/fuzz.test.ts): a seeded
 * PRNG, so any failing request can be made again from its seed and index,
 * and generators of the kinds of bad input a broker meets — malformed and
 * oversized values, broken percent-encoding and UTF-8, malformed JWTs and
 * Basic headers, deeply nested JSON.
 */
import { createHash } from "node:crypto";

/** mulberry32: small, fast, good enough to spread inputs; not for secrets. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(below: number): number {
    return Math.floor(this.next() * below);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  string(length: number, alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"): string {
    let out = "";
    for (let i = 0; i < length; i++) out += alphabet[this.int(alphabet.length)];
    return out;
  }
  /** Characters 0x00-0xff: sent as latin-1 bytes, the high half is invalid UTF-8. */
  bytes(length: number): string {
    let out = "";
    for (let i = 0; i < length; i++) out += String.fromCharCode(this.int(256));
    return out;
  }
}

/** The seed of request `index` of a run: each request can be regenerated alone. */
export function requestSeed(runSeed: number, index: number): number {
  return createHash("sha256").update(`${runSeed}:${index}`).digest().readUInt32BE(0);
}

const b64u = (value: string | Buffer) => Buffer.from(value).toString("base64url");

/** Strings that break parsers: encodings, sizes, types, injections. */
export function badValue(r: Random): string {
  switch (r.int(24)) {
    case 0:
      return "";
    case 1:
      return r.string(1 + r.int(40));
    case 2:
      return "A".repeat(10 * 1024);
    case 3:
      return r.pick(["%", "%z", "%zz", "%%", "%E0%A4%A", "%C3%28", "%FF%FE", "%00", "%u0041", "%2e%2e%2f", "%0d%0aX-Injected:%201"]);
    case 4:
      return r.bytes(1 + r.int(64));
    case 5:
      return r.pick(["ü€𝄞", "\u202e\u0000", "\ud800", "\uffff\ufffe", "😀".repeat(200), "Ω≈ç√∫"]);
    case 6:
      return r.pick([
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "${jndi:ldap://127.0.0.1/x}",
        "../../etc/passwd",
        "\r\nX-Injected: 1",
        "{{7*7}}",
        "__proto__",
        "constructor",
        "toString",
      ]);
    case 7:
      return r.pick(["{}", "[]", "null", "true", "1e309", "-0", "NaN", '{"a":1}', "[[[[[[[[[[]]]]]]]]]]"]);
    case 8:
      return r.pick(["-1", "0", "99999999999999999999", "1.5", "0x10", "1e3", " 1", "Infinity"]);
    case 9:
      return malformedJwt(r);
    case 10:
      return r.pick([
        "http://evil.example/cb",
        "javascript:alert(1)",
        "http://127.0.0.1:9/callback/../x",
        "//evil.example",
        "http://127.0.0.1:9/callback#frag",
        "data:text/html,x",
        "http://[::1",
        "urn:x",
      ]);
    case 11:
      return r.pick(["S256", "plain", "s256", "none", "RS256", ""]);
    case 12:
      return r.pick(["code", "token", "id_token", "code id_token token", "none", "code code", "CODE", "code\u0000"]);
    case 13:
      return r.pick(["openid", "openid proxy offline_access", "admin", "gh:user", "gh:raw:repo", "x:y:z:w", " ", "openid\topenid", "a".repeat(300)]);
    case 14:
      return r.pick(["query", "fragment", "form_post", "web_message", "jwt", "query.jwt"]);
    case 15:
      return r.string(200 + r.int(2000));
    case 16:
      return r.pick(["\u0000", "\t", "\n", " ", "\u00a0"]) + r.string(8);
    case 17:
      return "A".repeat(1 + r.int(8)).padEnd(4096, "=");
    case 18:
      return r.pick([
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "urn:ietf:params:oauth:token-type:access_token",
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "urn:",
      ]);
    case 19:
      return r.pick(["BCDF-GHJK", "bcdfghjk", "BCDF GHJK", "XXXX-XXXX-XXXX", "0000-0000"]);
    case 20:
      return `${r.string(4)}%${r.string(2, "0123456789ABCDEFGHXYZ")}${r.string(4)}`;
    case 21:
      return Array.from({ length: 1 + r.int(50) }, () => r.string(3)).join(r.pick([" ", ",", "+", "%20", ";"]));
    case 22:
      return r.pick(["true", "false", "yes", "1", "on"]);
    default:
      return r.pick(["127.0.0.1", "localhost", "127.0.0.2", "[::1]", "example.test", "a..b", "-x-", "x".repeat(300)]);
  }
}

/** Things that look like JWTs and are not quite. */
export function malformedJwt(r: Random, real?: string): string {
  const header = (h: object) => b64u(JSON.stringify(h));
  const payload = (p: object) => b64u(JSON.stringify(p));
  const now = Math.floor(Date.now() / 1000);
  switch (r.int(14)) {
    case 0:
      return "a.b.c";
    case 1:
      return "..";
    case 2:
      return `${header({ alg: "none", typ: "JWT" })}.${payload({ sub: "x", exp: now + 60 })}.`;
    case 3:
      return `${header({ alg: "HS256" })}.${payload({ sub: "x" })}.${b64u(r.bytes(32))}`;
    case 4:
      return `${b64u("not json")}.${payload({})}.${b64u("sig")}`;
    case 5:
      return `${header({ alg: "ES256", kid: "../../x", crit: ["exp"] })}.${b64u("{{{")}.${b64u("x")}`;
    case 6:
      return `${header({ alg: "RS256" })}.${payload({ exp: 1e308, iat: -1, nbf: "soon", aud: [[]], iss: { a: 1 } })}.${b64u(r.bytes(256))}`;
    case 7:
      return [1, 2, 3, 4, 5].map(() => b64u(r.bytes(20))).join(".");
    case 8:
      return `${header({ alg: "ES256", kid: "x".repeat(5000) })}.${payload({})}.${"A".repeat(86)}`;
    case 9:
      return `${r.string(10)}.${r.string(10, "!@#$%^&*()")}.${r.string(10)}`;
    case 10: {
      if (!real) return "x.y";
      // One character of a real token changed: a signature that no longer matches.
      const i = r.int(real.length);
      const c = real[i] === "A" ? "B" : "A";
      return real.slice(0, i) + c + real.slice(i + 1);
    }
    case 11: {
      if (!real) return "x.y.z";
      const [, body] = real.split(".");
      return `${header({ alg: "none" })}.${body}.`;
    }
    case 12:
      return `${header({ alg: "EdDSA", jwk: { kty: "OKP", crv: "Ed25519", x: b64u(r.bytes(32)) } })}.${payload({ sub: "x" })}.${b64u(r.bytes(64))}`;
    default:
      return `${header({ alg: "ES256", typ: "at+jwt" })}.${payload({ nested: nestedObject(200) })}.${b64u(r.bytes(64))}`;
  }
}

/** Basic headers that are not valid Basic credentials, or barely. */
export function brokenBasic(r: Random, realId: string, realSecret: string): string {
  const enc = (s: string) => Buffer.from(s, "latin1").toString("base64");
  switch (r.int(12)) {
    case 0:
      return "Basic";
    case 1:
      return "Basic ";
    case 2:
      return `Basic ${enc("nocolon")}`;
    case 3:
      return `Basic ${r.string(20, "!@#$%^&*()")}`;
    case 4:
      return `Basic ${enc(`${realId}:%zz`)}`;
    case 5:
      return `Basic ${enc(`%E0%A4%A:${realSecret}`)}`;
    case 6:
      return `Basic ${enc(`${realId}:${realSecret}`)}===`;
    case 7:
      return `basic  ${enc(`${realId}:${realSecret}`)}`;
    case 8:
      return `Basic ${enc(r.bytes(40))}`;
    case 9:
      return `Basic ${enc(`${"a".repeat(4000)}:${"b".repeat(2000)}`)}`;
    case 10:
      return `Basic ${enc(`${realId}:wrong-secret`)}`;
    default:
      return `Basic ${enc(`:${realSecret}`)}`;
  }
}

export function nestedObject(depth: number): unknown {
  let value: unknown = {};
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

/** JSON nested `depth` deep, written directly (JSON.stringify of so deep an object would overflow here first). */
export function deeplyNestedJson(depth: number, r: Random): string {
  return r.chance(0.5) ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

/** Header values no client should send. Kept well under Node's 16 KiB header limit: the broker, not Node's parser, should answer. */
export function badHeaderValue(r: Random): string {
  return r.pick(["", " ", "x".repeat(4000), "a=b; c", "null", "*", "gzip", "chunked", "127.0.0.1, 10.0.0.1", "text/html;q=0.1, */*;q=x"]);
}
