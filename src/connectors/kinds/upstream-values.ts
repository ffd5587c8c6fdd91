/**
 * Reading a connector's `values` (schema-values.ts) from what the upstream
 * answered at connect: its token response, or one GET made with the new
 * access token. A value the upstream chose becomes part of the URLs the
 * account's credentials are sent to, so each is checked here, when it is
 * read, and again where it is used (`checkedValueOrigin`, by the proxy):
 * an `origin` must be an https origin (http only where the file itself uses
 * http, i.e. development) on one of the file's `hosts`; its address then
 * goes through the outbound address policy like any other upstream host.
 */
import { UpstreamError } from "../../errors.js";
import { isHostWithPort } from "../host.js";
import type { ConnectorConfig } from "../schema.js";
import type { UpstreamValueSpec } from "../schema-values.js";
import { SEGMENT_VALUE } from "../schema-values.js";
import { fetchIdentityJson, pickPath } from "./identity.js";
import type { KindContext } from "./types.js";

/** Whether a connector keeps values (most do not: nothing is read, stored or filled for them). */
export function hasValues(connector: Pick<ConnectorConfig, "values">): boolean {
  for (const _ in connector.values) return true;
  return false;
}

/** Whether `host` (lower-case, with its port if any) is one of `patterns` (`host[:port]` or `*.domain`). */
export function valueHostAllowed(patterns: readonly string[], host: string): boolean {
  return patterns.some((pattern) => (pattern.startsWith("*.") ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1 : host === pattern));
}

/**
 * A value as its spec allows it, or a sentence saying why not. `origin`:
 * `https://host[:port]` (a trailing `/` dropped; no path, query, fragment or
 * credentials) on one of `hosts`; `segment`: one path segment.
 */
export function checkedValue(spec: Pick<UpstreamValueSpec, "as" | "hosts">, raw: unknown, allowHttp: boolean): { value: string } | { problem: string } {
  if (typeof raw !== "string" || raw === "") return { problem: "is missing or not text" };
  if (spec.as === "segment") return SEGMENT_VALUE.test(raw) ? { value: raw } : { problem: "is not one URL path segment" };
  return checkedValueOrigin(spec.hosts, raw, allowHttp);
}

/** An `origin` value checked against `hosts` (also used by the proxy on every use: the file's hosts may have changed since connect). */
export function checkedValueOrigin(hosts: readonly string[], raw: string, allowHttp: boolean): { value: string } | { problem: string } {
  const match = /^(https?):\/\/([^/?#@\\]+)\/?$/i.exec(raw);
  if (!match) return { problem: "is not an origin (scheme and host only)" };
  const scheme = match[1]!.toLowerCase();
  const host = match[2]!.toLowerCase();
  if (scheme === "http" && !allowHttp) return { problem: "is not https" };
  if (!isHostWithPort(host)) return { problem: "does not name a host" };
  if (!valueHostAllowed(hosts, host)) return { problem: `names ${host}, which is not one of the connector's hosts for it` };
  return { value: `${scheme}://${host}` };
}

/** The token-response values of a connector, read from a token response (connect and refresh); absent ones are left out. */
export function valuesFromTokenResponse(ctx: KindContext, response: Record<string, unknown>, required: boolean): Record<string, string> | undefined {
  let values: Record<string, string> | undefined;
  for (const [name, spec] of Object.entries(ctx.connector.values)) {
    if (spec.from !== "token") continue;
    const raw = pickPath(response, spec.path);
    // A refresh response may leave a value out: the one read at connect is kept.
    if (raw === undefined && !required) continue;
    (values ??= {})[name] = readValue(ctx, name, spec, raw);
  }
  return values;
}

/** The values read by a call after the code exchange (GET with the new access token), one call per distinct URL. */
export async function valuesFromCalls(ctx: KindContext, accessToken: string): Promise<Record<string, string> | undefined> {
  let values: Record<string, string> | undefined;
  const answers = new Map<string, Promise<unknown>>();
  for (const [name, spec] of Object.entries(ctx.connector.values)) {
    if (spec.from !== "call" || !spec.url) continue;
    let answer = answers.get(spec.url);
    if (!answer) {
      answer = fetchIdentityJson(
        ctx,
        spec.url,
        { headers: { authorization: `Bearer ${accessToken}` } },
        (status) => new UpstreamError(`${ctx.connector.name} refused the access token at the URL of its value ${name} (HTTP ${status})`),
        "identity",
      );
      answers.set(spec.url, answer);
    }
    (values ??= {})[name] = readValue(ctx, name, spec, pickPath(await answer, spec.path));
  }
  return values;
}

function readValue(ctx: KindContext, name: string, spec: UpstreamValueSpec, raw: unknown): string {
  const checked = checkedValue(spec, raw, ctx.allowInsecure);
  if ("problem" in checked) throw new UpstreamError(`${ctx.connector.name}'s ${spec.path} (the connector's value ${name}) ${checked.problem}`);
  return checked.value;
}
