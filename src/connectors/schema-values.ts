/**
 * The connector file's `values` section: values an upstream hands out at
 * connect (in its token response, or in the answer of one call made after
 * it) that the broker keeps with the account and fills into templates as
 * `{values.<name>}` — Salesforce's `instance_url` (the org's API host),
 * Jira Cloud's `cloudId` (a path segment of `api.atlassian.com/ex/jira/…`).
 *
 * A value is data an upstream chose, so it is typed: an `origin` must be an
 * https origin on one of the hosts the file lists (it becomes where the
 * account's credentials are sent: an upstream that answered any URL would
 * otherwise steer them anywhere), a `segment` one URL path segment.
 * A leaf module (zod and host.ts), like schema-fields.ts.
 */
import { z } from "zod";
import { isHostWithPort } from "./host.js";
import { upstreamUrl, VALUE_PLACEHOLDER } from "./schema-fields.js";

/** What a `segment` value may be: unreserved characters only, never `.` or `..` (it is joined into a path). */
export const SEGMENT_VALUE = /^(?!\.{1,2}$)[A-Za-z0-9._~-]{1,256}$/;

const jsonPath = z
  .string()
  .regex(/^[A-Za-z0-9_$@-]+(\.[A-Za-z0-9_$@-]+)*$/, "must be a dotted JSON path such as id or 0.id")
  .meta({ format: "json-path" });

/** `host[:port]` or `*.domain`: where an `origin` value may point. */
const valueHost = z
  .string()
  .toLowerCase()
  .refine((value) => isHostWithPort(value.startsWith("*.") ? value.slice(2) : value), "must be a host name (with an optional :port) or *.domain");

const upstreamValue = z
  .strictObject({
    from: z
      .enum(["token", "call"])
      .describe(
        "Where the value is read: `token`, the token response (at connect and at each refresh that carries it again); `call`, the answer of a GET of `url` made once at connect with the new access token.",
      ),
    url: upstreamUrl.optional().describe("With `from: call` (and only then): the URL to GET (`{hostname}` filled; the access token sent as a bearer token)."),
    path: jsonPath.describe("Where the answer has the value: `instance_url`, or `0.id` for the first entry of a list."),
    as: z
      .enum(["origin", "segment"])
      .describe(
        "What the value is: `origin`, an https origin (`https://acme.my.salesforce.com`; a trailing `/` is dropped) that may only start a template and must be on one of `hosts`; `segment`, one path segment (letters, digits and `-._~`).",
      ),
    hosts: z
      .array(valueHost)
      .default([])
      .describe(
        "With `as: origin`: the hosts it may name, `host[:port]` or `*.domain`. A value on any other host fails the connect; its address is checked against the outbound address policy on every use, as a `{hostname}` is.",
      ),
  })
  .superRefine((value, ctx) => {
    if (value.from === "call" && !value.url) ctx.addIssue({ code: "custom", path: ["url"], message: "is required with from: call" });
    if (value.from === "token" && value.url) ctx.addIssue({ code: "custom", path: ["url"], message: "is only for from: call" });
    if (value.as === "origin" && value.hosts.length === 0)
      ctx.addIssue({ code: "custom", path: ["hosts"], message: "must list at least one host for as: origin: an upstream's URL is not trusted as is" });
    if (value.as === "segment" && value.hosts.length > 0) ctx.addIssue({ code: "custom", path: ["hosts"], message: "is only for as: origin" });
  });

export type UpstreamValueSpec = z.output<typeof upstreamValue>;

const VALUE_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

export const upstreamValues = z
  .record(z.string(), upstreamValue)
  // Names checked here rather than by the record's key schema, whose message would only say "Invalid key".
  .superRefine((values, ctx) => {
    for (const name of Object.keys(values))
      if (!VALUE_NAME.test(name)) ctx.addIssue({ code: "custom", path: [name], message: "value names must be a letter, then letters, digits or _" });
  })
  .default({})
  .describe(
    "Values the upstream hands out at connect, kept with the account and filled as `{values.<name>}` in `api.baseUrl`, `api.bases` and `identity.url` (Salesforce's `instance_url`, Jira Cloud's `cloudId`). A connect whose answer lacks one, or whose value is not what `as` and `hosts` allow, fails.",
  );

/** The `{values.…}` names a template uses. */
export function valueNamesIn(template: string): string[] {
  return [...template.matchAll(VALUE_PLACEHOLDER)].map((match) => match[1]!);
}
