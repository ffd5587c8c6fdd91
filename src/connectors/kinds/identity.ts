/**
 * Learning who connected from the connector's `identity` section: GET
 * `identity.url` with the access token and pick `subject`, `email`,
 * `emailVerified` and `name` by dotted JSON path. Shared by every kind that
 * has an access token.
 */
import { UpstreamError } from "../../errors.js";
import { credentialStyle } from "../credential-styles.js";
import { fillTemplate, fillWithToken } from "../template.js";
import type { KindContext, UpstreamIdentity } from "./types.js";
import { sanitizeUpstreamText, upstreamCall } from "./upstream-errors.js";

/** GitHub and others refuse requests without a User-Agent. */
export const USER_AGENT = "authbroker";

/** An identity response larger than this is not a user profile. */
const MAX_IDENTITY_BYTES = 1_000_000;
const IDENTITY_TIMEOUT_MS = 30_000;

/** The value at a dotted path (`data.user.id`, `emails.0.address`); own properties only. */
export function pickPath(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split(".")) {
    if (current === null || typeof current !== "object") return undefined;
    if (!Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function asText(value: unknown): string | undefined {
  if (typeof value === "string" && value !== "") return value;
  return undefined;
}

/** The first of `paths` (one path, or fallbacks in order) that holds a non-empty text. */
function firstText(profile: Record<string, unknown>, paths: string | readonly string[] | undefined): string | undefined {
  for (const path of typeof paths === "string" ? [paths] : (paths ?? [])) {
    const text = asText(pickPath(profile, path));
    if (text !== undefined) return text;
  }
  return undefined;
}

/** Where the identity is in an upstream profile: dotted JSON paths (the connector's `identity` section). */
export interface IdentityPaths {
  subject: string;
  /** One path, or fallbacks tried in order. */
  email?: string | readonly string[];
  emailVerified?: string;
  /** One path, or fallbacks tried in order. */
  name?: string | readonly string[];
}

/** What the broker keeps of who connected, besides the subject. */
export type ProfileFields = Pick<UpstreamIdentity, "email" | "emailVerified" | "name">;

/**
 * The email, whether it is verified, and the name of an upstream profile.
 * `emailVerified` is taken only as a JSON boolean, and only with the email
 * it speaks of: an upstream that says nothing (or `"true"` as text) leaves
 * it unknown, never true (OIDC Core §5.7: an app must not trust an email
 * nobody verified).
 */
export function profileFields(profile: Record<string, unknown>, paths: Omit<IdentityPaths, "subject">): ProfileFields {
  const email = firstText(profile, paths.email);
  const verified = email && paths.emailVerified ? pickPath(profile, paths.emailVerified) : undefined;
  return {
    email,
    emailVerified: typeof verified === "boolean" ? verified : undefined,
    name: firstText(profile, paths.name),
  };
}

/**
 * Picks the identity out of an upstream profile. The subject may be a
 * string or a number (GitHub's `id`); a missing subject is the upstream's
 * failure: without it there is no stable account key.
 */
export function identityFromProfile(ctx: Pick<KindContext, "connector">, profile: Record<string, unknown>, paths: IdentityPaths): UpstreamIdentity {
  const rawSubject = pickPath(profile, paths.subject);
  const subject = typeof rawSubject === "number" && Number.isFinite(rawSubject) ? String(rawSubject) : asText(rawSubject);
  if (subject === undefined) throw new UpstreamError(`${ctx.connector.name} did not say who connected: its identity response has no "${paths.subject}"`);
  return { subject, ...profileFields(profile, paths), profile };
}

/** How an identity request is authorized: headers to add, and query parameters (`query:<param>` credentials). */
export interface IdentityAuthorization {
  headers: Record<string, string>;
  query?: Record<string, string>;
}

/**
 * GETs a URL of the connector (a template, filled with the context's
 * hostname) with the given authorization and returns the JSON object it
 * answers. A 401 or 403 is `refused(status)`'s error: an expired token for
 * the token kinds, wrong typed credentials for basic/api_key.
 */
export async function fetchIdentityDocumentWith(
  ctx: KindContext,
  url: string,
  authorization: IdentityAuthorization,
  refused: (status: number) => Error = (status) => new UpstreamError(`${ctx.connector.name} refused the access token at its identity URL (HTTP ${status})`),
  step: "identity" | "credential check" = "identity",
): Promise<Record<string, unknown>> {
  const document = await fetchIdentityJson(ctx, url, authorization, refused, step, identityRequestOf(ctx));
  if (document === null || typeof document !== "object" || Array.isArray(document))
    throw new UpstreamError(`${ctx.connector.name}'s identity response is not a JSON object`);
  return document as Record<string, unknown>;
}

/** How an identity call is made: a GET, or a POST with or without a JSON body (`identity.method`, `identity.body`). */
export interface IdentityRequest {
  method: "GET" | "POST";
  /** The JSON body of a POST (`null` is a body); undefined: none. */
  body?: unknown;
}

const GET: IdentityRequest = { method: "GET" };

/** The connector's identity call as its file describes it. */
function identityRequestOf(ctx: KindContext): IdentityRequest {
  const identity = ctx.connector.identity;
  return identity ? { method: identity.method, body: identity.body } : GET;
}

/** Calls an identity URL of the connector (or a `values` call URL, a GET) and returns the JSON it answers, whatever its shape. */
export async function fetchIdentityJson(
  ctx: KindContext,
  url: string,
  authorization: IdentityAuthorization,
  refused: (status: number) => Error,
  step: "identity" | "credential check",
  request: IdentityRequest = GET,
): Promise<unknown> {
  const { connector } = ctx;
  const target = new URL(fillTemplate(url, { hostname: ctx.hostname, values: ctx.values, pathPrefix: ctx.connector.hostname?.pathPrefix }));
  for (const [name, value] of Object.entries(authorization.query ?? {})) target.searchParams.set(name, value);
  const withBody = request.body !== undefined;
  return upstreamCall(connector, step, async () => {
    const response = await ctx.fetch(target, {
      method: request.method,
      headers: {
        accept: "application/json",
        "user-agent": USER_AGENT,
        ...(withBody ? { "content-type": "application/json" } : {}),
        ...connector.headers,
        ...authorization.headers,
      },
      body: withBody ? JSON.stringify(request.body) : undefined,
      signal: AbortSignal.timeout(IDENTITY_TIMEOUT_MS),
    });
    const text = await response.text();
    if (response.status === 401 || response.status === 403) throw refused(response.status);
    if (!response.ok) {
      throw new UpstreamError(`${connector.name}'s identity URL answered HTTP ${response.status}`, {
        detail: `${connector.id} ${step}: ${sanitizeUpstreamText(text) ?? "(empty body)"}`,
      });
    }
    if (text.length > MAX_IDENTITY_BYTES) throw new UpstreamError(`${connector.name}'s identity response is too large`);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new UpstreamError(`${connector.name}'s identity URL did not answer JSON`);
    }
  });
}

/**
 * How an identity request carries an access token: the way the proxy sends
 * it (`api.credentials`: Shopify's `X-Shopify-Access-Token`, a query
 * parameter…), by the proxy's own credential styles, so an identity call that
 * passes means the proxy's calls will.
 */
export async function accessTokenAuthorization(ctx: KindContext, url: string, accessToken: string): Promise<IdentityAuthorization> {
  const target = { headers: {} as Record<string, string | string[]>, search: "", method: "GET", url: new URL(url), body: { kind: "none" as const } };
  await credentialStyle(ctx.connector, []).inject(target, { accessToken });
  const headers = Object.fromEntries(Object.entries(target.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(", ") : value]));
  const query = Object.fromEntries(new URLSearchParams(target.search));
  return { headers, query };
}

/** GETs the connector's identity URL with an access token (sent as `api.credentials` says) and returns the JSON object it answers. */
export async function fetchIdentityDocument(ctx: KindContext, url: string, accessToken: string): Promise<Record<string, unknown>> {
  // `{token}`: an upstream that names the token in the path (HubSpot's /oauth/v1/access-tokens/{token}).
  const filled = fillWithToken(url, accessToken, (template) =>
    fillTemplate(template, { hostname: ctx.hostname, pathPrefix: ctx.connector.hostname?.pathPrefix }),
  );
  return fetchIdentityDocumentWith(ctx, filled, await accessTokenAuthorization(ctx, filled, accessToken));
}

/** The identity at `identity.url` for an access token (connectors whose file has one). */
export async function identityFromUrl(ctx: KindContext, accessToken: string): Promise<UpstreamIdentity> {
  const identity = ctx.connector.identity;
  if (!identity?.url || !identity.subject) throw new TypeError(`connector "${ctx.connector.id}" has no identity.url`);
  const document = await fetchIdentityDocument(ctx, identity.url, accessToken);
  const found = identityFromProfile(ctx, document, {
    subject: identity.subject,
    email: identity.email,
    emailVerified: identity.emailVerified,
    name: identity.name,
  });
  if (found.email !== undefined || !identity.emailLookup) return found;
  return { ...found, ...(await emailFromLookup(ctx, identity.emailLookup, accessToken)) };
}

/**
 * `identity.emailLookup`: a second call for the email, when the first answer
 * has none (GitHub's `/user` shows only a public email; `/user/emails` lists
 * them all). A list answer is searched for the entry whose fields equal
 * `select` (`{ primary: true }`); no such entry leaves the email unknown.
 */
async function emailFromLookup(
  ctx: KindContext,
  lookup: NonNullable<NonNullable<KindContext["connector"]["identity"]>["emailLookup"]>,
  accessToken: string,
): Promise<Pick<UpstreamIdentity, "email" | "emailVerified">> {
  const refused = (status: number) => new UpstreamError(`${ctx.connector.name} refused the access token at its email lookup URL (HTTP ${status})`);
  const authorization = await accessTokenAuthorization(ctx, fillTemplate(lookup.url, {}), accessToken);
  const document = await fetchIdentityJson(ctx, lookup.url, authorization, refused, "identity");
  const candidates = Array.isArray(document) ? document : [document];
  const entry = candidates.find(
    (item): item is Record<string, unknown> =>
      item !== null && typeof item === "object" && Object.entries(lookup.select).every(([path, value]) => pickPath(item, path) === value),
  );
  if (!entry) return {};
  const { email, emailVerified } = profileFields(entry, { email: lookup.email, emailVerified: lookup.emailVerified });
  return { email, emailVerified };
}
