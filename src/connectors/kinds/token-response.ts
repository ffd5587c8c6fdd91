/**
 * `auth.tokenResponse`: token responses real upstreams send that RFC 6749
 * §5.1 (and so oauth4webapi, under openid-client) refuses — Slack's
 * `token_type: "bot"`, Shopify's response without `token_type`, Linear's
 * `scope` as a JSON list — rewritten into the form the library checks,
 * before it checks them.
 *
 * openid-client v6 passes no `recognizedTokenTypes` to oauth4webapi for the
 * code and refresh grants, so the token endpoint's answer is rewritten in
 * the Configuration's fetch (authorization-code.ts), where a GitHub-style
 * HTTP 200 error already is. Why a declared leniency rather than a general
 * rule ("any token_type but DPoP is a bearer token"): a token type the broker
 * does not know may not be a bearer credential at all (MAC, a proof-of-
 * possession scheme), and sending it as one would fail far from the cause;
 * the connector that needs a leniency names it, and every other connector
 * keeps the library's checks. An accepted token is sent the way
 * `api.credentials` says, and kept as `bearer`: that is how it is used.
 */
import type { TokenResponseLeniency } from "../schema-fields.js";

/** The token endpoint's answer with the connector's declared leniencies applied; unchanged when nothing applies. */
export async function withDeclaredLeniency(response: Response, leniency: TokenResponseLeniency | undefined): Promise<Response> {
  if (!leniency || response.status !== 200) return response;
  const text = await response.text();
  // Content-Length would be the upstream's body's, not the rewritten one's.
  const headers = new Headers([...response.headers].filter(([name]) => name !== "content-length"));
  const rebuilt = (body: string) => new Response(body, { status: response.status, headers });
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return rebuilt(text);
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) return rebuilt(text);
  const fields = body as Record<string, unknown>;
  // Only a response that grants a token: anything else is the library's to refuse.
  if (typeof fields.access_token !== "string") return rebuilt(text);
  const changed = { ...fields };
  if (fields.token_type === undefined && leniency.tokenTypeOptional) changed.token_type = "bearer";
  if (typeof fields.token_type === "string" && leniency.bearerTokenTypes.includes(fields.token_type.toLowerCase())) changed.token_type = "bearer";
  if (leniency.scopeList && Array.isArray(fields.scope) && fields.scope.every((scope) => typeof scope === "string")) changed.scope = fields.scope.join(" ");
  return rebuilt(JSON.stringify(changed));
}

/** The connector's `auth.tokenResponse`, for the kinds that have one. */
export function tokenResponseLeniencyOf(auth: object): TokenResponseLeniency | undefined {
  return "tokenResponse" in auth ? (auth.tokenResponse as TokenResponseLeniency | undefined) : undefined;
}
