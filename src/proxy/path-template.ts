/**
 * The path an audit event records for a proxied call: enough to tell what
 * was called (`GET /repos/{id}/issues`), never what was in it. Query strings
 * are dropped (they carry search terms, sometimes keys), segments that look
 * like identifiers or data (numbers, UUIDs, long or mixed tokens, anything
 * percent-encoded) become `{id}`, and only the first few segments are kept.
 */

const MAX_SEGMENTS = 4;
const MAX_SEGMENT_LENGTH = 32;

/** A segment that names a resource kind (`repos`, `v2`, `me`, `pull_requests`) rather than an instance. */
const WORD = /^(?:[A-Za-z][A-Za-z_-]*|v\d+)$/;

function templateSegment(segment: string): string {
  if (segment === "") return segment;
  if (segment.length > MAX_SEGMENT_LENGTH || !WORD.test(segment)) return "{id}";
  return segment;
}

/** `files/123/content?x=1` → `/files/{id}/content`. */
export function pathTemplate(pathAndQuery: string): string {
  const q = pathAndQuery.indexOf("?");
  const path = (q === -1 ? pathAndQuery : pathAndQuery.slice(0, q)).replace(/^\/+/, "");
  if (path === "") return "/";
  const segments = path.split("/");
  const kept = segments.slice(0, MAX_SEGMENTS).map(templateSegment);
  if (segments.length > MAX_SEGMENTS) kept.push("…");
  return `/${kept.join("/")}`;
}
