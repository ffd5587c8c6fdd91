/**
 * Where a proxied call goes: the connector's `api.baseUrl` plus the path the
 * app asked for. The result can never leave the base URL: dot segments
 * (plain or percent-encoded), backslashes, `@`, a scheme or an authority in
 * the path, and encoded slashes are refused rather than normalised, because
 * an upstream may decode them differently than we do.
 */
import { LRUCache } from "lru-cache";
import { BadRequest } from "../errors.js";

const FORBIDDEN_IN_PATH: [RegExp, string][] = [
  [/\\/, "a backslash"],
  [/%5c/i, "an encoded backslash"],
  [/%2f/i, "an encoded slash"],
  [/%2e/i, "an encoded dot"],
  [/%25/i, "an encoded percent sign"],
  [/@/, "an @"],
  [/%40/i, "an encoded @"],
  [/[\u0000-\u001f\u007f]/, "a control character"],
  [/%[01][0-9a-f]|%7f/i, "an encoded control character"],
  [/^[a-z][a-z0-9+.-]*:/i, "a scheme"],
  [/^\//, "an authority"],
];

/** Any of the above, in one test: the list is walked only to name what a refused path holds. */
const ANY_FORBIDDEN = new RegExp(FORBIDDEN_IN_PATH.map(([pattern]) => `(?:${pattern.source})`).join("|"), "i");

/** A base URL as the join needs it, parsed once per base (a connector's, or a per-server account's). */
interface ParsedBase {
  origin: string;
  /** The base's path with one trailing slash. */
  path: string;
}
const parsedBases = new LRUCache<string, ParsedBase>({ max: 1_024 });

function parseBase(baseUrl: string): ParsedBase {
  let parsed = parsedBases.get(baseUrl);
  if (!parsed) {
    const base = new URL(baseUrl);
    parsed = { origin: base.origin, path: base.pathname.endsWith("/") ? base.pathname : `${base.pathname}/` };
    parsedBases.set(baseUrl, parsed);
  }
  return parsed;
}

const SLASH = 0x2f;
const AT_SIGN = 0x40;

/**
 * `/@upload/files?x` → the base named `upload` (api.bases) and `/files?x`
 * to join under it; undefined for a path under `api.baseUrl`. A first
 * segment starting with `@` was never a path an app could send (`@` is
 * refused below), so naming a base this way shadows no upstream path, and
 * an SDK's base URL can be `…/v1/proxy/@upload`. Costs one character test
 * for every other call.
 */
export function namedBaseOf(pathAndQuery: string): { name: string; rest: string } | undefined {
  const at = pathAndQuery.charCodeAt(0) === SLASH ? 1 : 0;
  if (pathAndQuery.charCodeAt(at) !== AT_SIGN) return undefined;
  let end = at + 1;
  while (end < pathAndQuery.length && pathAndQuery[end] !== "/" && pathAndQuery[end] !== "?") end++;
  return { name: pathAndQuery.slice(at + 1, end), rest: pathAndQuery.slice(end) };
}

/**
 * Joins `baseUrl` and a request path + query. `pathAndQuery` is the part
 * after the proxy prefix, as received (still percent-encoded), with or
 * without its leading slash: `/files/1?x=y` or `files/1?x=y`.
 */
export function proxyTargetUrl(baseUrl: string, pathAndQuery: string): URL {
  const q = pathAndQuery.indexOf("?");
  // The one slash after the proxy prefix (`/v1/proxy/files`) is a separator; a second one would start an authority.
  const raw = q === -1 ? pathAndQuery : pathAndQuery.slice(0, q);
  const path = raw.startsWith("/") ? raw.slice(1) : raw;
  // An empty query (`files?`) is none, as the search setter took it.
  const query = q === -1 || q === pathAndQuery.length - 1 ? "" : pathAndQuery.slice(q);
  if (ANY_FORBIDDEN.test(path)) {
    for (const [pattern, what] of FORBIDDEN_IN_PATH) if (pattern.test(path)) throw new BadRequest(`the proxied path must not contain ${what}`);
  }
  if (query.includes("#")) throw new BadRequest("the proxied path must not contain a fragment");
  // A segment is a dot segment also with path parameters: Tomcat and other
  // servlet containers read `/..;x/` as `/../` (the "..;" traversal).
  if (path.includes(".")) {
    const segments = path.split("/").map((s) => s.split(";")[0]);
    if (segments.some((s) => s === "." || s === "..")) throw new BadRequest("the proxied path must not contain . or .. segments");
  }
  const base = parseBase(baseUrl);
  // One parse of the whole URL (a parse per setter costs the proxy a few µs a call). A `#` in the
  // path is a character of the path, as the pathname setter took it, not the start of a fragment.
  const relative = path.replace(/^\/+/, "");
  const target = new URL(base.origin + base.path + (relative.includes("#") ? relative.replaceAll("#", "%23") : relative) + query);
  // Belt and braces: whatever URL parsing did, the result must still be under the base.
  if (target.origin !== base.origin || !target.pathname.startsWith(base.path)) throw new BadRequest("the proxied path leaves the connector's API");
  return target;
}
