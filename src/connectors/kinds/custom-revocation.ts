/**
 * Revocation where the upstream does not follow RFC 7009
 * (`auth.revocation`): GitHub deletes a grant with
 * `DELETE /applications/{client_id}/grant`, HTTP Basic client
 * authentication and a JSON body `{ "access_token": … }`. The method, URL,
 * body format, parameter name, client authentication and which token it
 * takes are the connector file's; the broker only sends it.
 */
import { UpstreamError } from "../../errors.js";
import type { UpstreamClientCredentials } from "../credentials.js";
import { CLIENT_ID_PLACEHOLDER, type CustomRevocation } from "../schema-fields.js";
import { fillTemplate, fillWithToken } from "../template.js";
import { clientSecretBasicHeader } from "./client-secret-basic.js";
import { USER_AGENT } from "./identity.js";
import type { KindContext } from "./types.js";
import { sanitizeUpstreamText, upstreamCall } from "./upstream-errors.js";

const REVOCATION_TIMEOUT_MS = 30_000;

/** Sends the revocation the file describes; false when it takes the other kind of token (nothing sent). */
export async function revokeAsDescribed(
  ctx: KindContext,
  revocation: CustomRevocation,
  credentials: UpstreamClientCredentials,
  token: string,
  tokenTypeHint: "access_token" | "refresh_token" | undefined,
): Promise<boolean> {
  if (revocation.token !== "any" && tokenTypeHint !== undefined && tokenTypeHint !== revocation.token) return false;
  const url = new URL(
    fillWithToken(revocation.url.replaceAll(CLIENT_ID_PLACEHOLDER, encodeURIComponent(credentials.clientId)), token, (template) =>
      fillTemplate(template, { hostname: ctx.hostname, pathPrefix: ctx.connector.hostname?.pathPrefix }),
    ),
  );
  const headers: Record<string, string> = { accept: "application/json", "user-agent": USER_AGENT, ...ctx.connector.headers };
  // `tokenIn`: the form or JSON body (RFC 7009's place), the query (Zoom), a bearer header (Dropbox), or the URL's {token} (HubSpot).
  const fields: Record<string, string> = revocation.tokenIn === "body" ? { [revocation.tokenParameter]: token } : {};
  if (revocation.tokenIn === "query") url.searchParams.set(revocation.tokenParameter, token);
  if (revocation.tokenIn === "bearer") headers.authorization = `Bearer ${token}`;
  if (revocation.clientAuth === "client_secret_basic") {
    if (credentials.clientSecret === undefined) throw new TypeError(`connector "${ctx.connector.id}" has no client secret for its revocation`);
    headers.authorization = clientSecretBasicHeader(credentials.clientId, credentials.clientSecret, "minimal");
  } else if (revocation.clientAuth === "client_secret_post") {
    fields.client_id = credentials.clientId;
    if (credentials.clientSecret !== undefined) fields.client_secret = credentials.clientSecret;
  }
  let body: string | undefined;
  if (Object.keys(fields).length === 0) body = undefined;
  else if (revocation.body === "json") {
    headers["content-type"] = "application/json";
    body = JSON.stringify(fields);
  } else {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(fields).toString();
  }
  await upstreamCall(ctx.connector, "revocation", async () => {
    const response = await ctx.fetch(url, { method: revocation.method, headers, body, signal: AbortSignal.timeout(REVOCATION_TIMEOUT_MS) });
    const text = await response.text();
    // A token already gone is revoked as far as the broker is concerned (RFC 7009 §2.2 answers 200 for it too).
    if (!response.ok && response.status !== 404)
      throw new UpstreamError(`${ctx.connector.name} refused the revocation (HTTP ${response.status})`, {
        detail: `${ctx.connector.id} revocation: ${sanitizeUpstreamText(text) ?? "(empty body)"}`,
      });
  });
  return true;
}
