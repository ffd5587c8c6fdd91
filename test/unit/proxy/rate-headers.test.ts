/**
 * The headers of outbound rate control (src/proxy/rate-headers.ts): what the
 * app's `Prefer: wait` and the upstream's rate-limit answers are read as,
 * and that malformed or hostile values read as "nothing said" or a bounded
 * hold, never NaN or a negative wait.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MAX_UPSTREAM_HOLD_MS, preferredWaitSeconds, retryAfterMs, upstreamHoldMs } from "../../../src/proxy/rate-headers.js";
import { slotHoldMs } from "../../../src/proxy/rate-limit.js";

const NOW = Date.parse("2026-12-06T02:00:00Z");

describe("Prefer: wait (RFC 7240)", () => {
  it("reads the wait among other preferences, in any case, quoted or with parameters", () => {
    assert.equal(preferredWaitSeconds("wait=5"), 5);
    assert.equal(preferredWaitSeconds("respond-async, WAIT=10"), 10);
    assert.equal(preferredWaitSeconds('wait="3"'), 3);
    assert.equal(preferredWaitSeconds("wait=2;foo=bar"), 2);
    assert.equal(preferredWaitSeconds(["return=minimal", " wait = 7 "]), 7);
    assert.equal(preferredWaitSeconds("wait=0"), 0);
  });

  for (const [value, why] of [
    [undefined, "no header"],
    ["return=minimal", "no wait preference"],
    ["wait", "no value"],
    ["wait=", "an empty value"],
    ["wait=-1", "a negative value"],
    ["wait=1.5", "a fraction"],
    ["wait=abc", "text"],
    ["wait=1e3", "an exponent"],
    ["wait=9999999999999", "more than 12 digits"],
    ["waiting=5", "another preference whose name starts with wait"],
  ] as const)
    it(`reads nothing from ${why}`, () => assert.equal(preferredWaitSeconds(value), undefined));

  it("bounds a huge wait to a day (the operator's maximum bounds it further)", () => assert.equal(preferredWaitSeconds("wait=999999999999"), 86_400));
});

describe("Retry-After (RFC 9110 §10.2.3)", () => {
  it("reads seconds and HTTP dates", () => {
    assert.equal(retryAfterMs("30", NOW), 30_000);
    assert.equal(retryAfterMs(" 0 ", NOW), 0);
    assert.equal(retryAfterMs("Sun, 06 Dec 2026 02:00:20 GMT", NOW), 20_000);
    assert.equal(retryAfterMs("Sun, 06 Dec 2026 01:00:00 GMT", NOW), 0, "a date in the past is no wait");
  });
  for (const value of [undefined, "", "-5", "1.5", "soon", "2026-12-06T02:00:20Z", "Sun, 99 Foo 2026 02:00:20 GMT", "NaN", "Infinity"])
    it(`reads nothing from ${JSON.stringify(value)}`, () => assert.equal(retryAfterMs(value, NOW), undefined));
});

describe("how long an upstream answer holds further calls", () => {
  it("Retry-After on a 429 or a 503, not on other statuses", () => {
    assert.equal(upstreamHoldMs(429, { "retry-after": "12" }, NOW), 12_000);
    assert.equal(upstreamHoldMs(503, { "retry-after": "3" }, NOW), 3_000);
    assert.equal(upstreamHoldMs(200, { "retry-after": "12" }, NOW), 0);
    assert.equal(upstreamHoldMs(301, { "retry-after": "12" }, NOW), 0);
  });

  it("X-RateLimit-Remaining: 0 with X-RateLimit-Reset in epoch seconds (GitHub) or seconds from now", () => {
    const reset = String(Math.floor(NOW / 1000) + 40);
    assert.equal(upstreamHoldMs(200, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset }, NOW), 40_000);
    assert.equal(upstreamHoldMs(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "25" }, NOW), 25_000);
    assert.equal(upstreamHoldMs(200, { "x-ratelimit-remaining": "1", "x-ratelimit-reset": reset }, NOW), 0, "calls remain");
    assert.equal(upstreamHoldMs(200, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.floor(NOW / 1000) - 5) }, NOW), 0, "a past reset");
  });

  it("RateLimit-Remaining: 0 with RateLimit-Reset, and the structured RateLimit field (draft-ietf-httpapi-ratelimit-headers)", () => {
    assert.equal(upstreamHoldMs(200, { "ratelimit-remaining": "0", "ratelimit-reset": "7" }, NOW), 7_000);
    assert.equal(upstreamHoldMs(200, { ratelimit: '"default";r=0;t=9' }, NOW), 9_000);
    assert.equal(upstreamHoldMs(200, { ratelimit: '"burst";r=5;t=1, "day";r=0;t=30' }, NOW), 30_000);
    assert.equal(upstreamHoldMs(200, { ratelimit: '"default";r=3;t=9' }, NOW), 0);
  });

  it("the longest of several holds wins", () =>
    assert.equal(upstreamHoldMs(429, { "retry-after": "5", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "8" }, NOW), 8_000));

  it("caps a hold at an hour, whatever the upstream says", () => {
    assert.equal(upstreamHoldMs(429, { "retry-after": "999999999" }, NOW), MAX_UPSTREAM_HOLD_MS);
    assert.equal(upstreamHoldMs(200, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "99999999999" }, NOW), MAX_UPSTREAM_HOLD_MS);
  });

  for (const [headers, why] of [
    [{ "retry-after": "-1" }, "a negative Retry-After"],
    [{ "retry-after": "abc" }, "a Retry-After of text"],
    [{ "x-ratelimit-remaining": "zero", "x-ratelimit-reset": "10" }, "a remaining count of text"],
    [{ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "NaN" }, "a reset of NaN"],
    [{ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "-10" }, "a negative reset"],
    [{ "ratelimit-remaining": "0" }, "no reset"],
    [{ ratelimit: '"default";r=0;t=abc' }, "a structured field with t of text"],
    [{ ratelimit: ";;;==,," }, "a structured field of punctuation"],
  ] as const)
    it(`holds nothing for ${why}`, () => {
      const hold = upstreamHoldMs(429, headers, NOW);
      assert.equal(hold, 0);
    });

  it("reads the first of repeated headers", () => assert.equal(upstreamHoldMs(429, { "retry-after": ["4", "400"] }, NOW), 4_000));
});

describe("a slot is held for the interval plus a tenth of it, at most a second more", () => {
  it("for short and long intervals", () => {
    assert.equal(slotHoldMs(1), 1_100);
    assert.equal(slotHoldMs(2), 2_200);
    assert.equal(slotHoldMs(60), 61_000);
    assert.equal(slotHoldMs(3600), 3_601_000);
  });
});
