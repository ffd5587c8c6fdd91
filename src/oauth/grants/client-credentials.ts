/**
 * `client_credentials` (RFC 6749 §4.4): a token for the app itself (`sub` =
 * client id), for machine-to-machine calls such as listing its accounts or
 * proxying for an account it owns. Confidential clients only (§4.4: "MUST
 * only be used by confidential clients"); no refresh token (§4.4.3). With
 * `resource` (RFC 8707) the token is for that resource (its `aud`), with its
 * scopes (resource-indicators.ts).
 */
import { InvalidScope, UnauthorizedClient } from "../../errors.js";
import { parseScope } from "../scopes.js";
import { issueAccessToken } from "../tokens.js";
import { resourceScopes, targetResource, type ProtectedResource } from "../resource-indicators.js";
import type { GrantContext, TokenResponse } from "./grant.js";

export const grantType = "client_credentials";
export const parameters: ReadonlySet<string> = new Set(["scope", "resource"]);

/** Scopes that only mean something with an end user; a token of the app itself cannot carry them. */
const END_USER_SCOPES = new Set(["openid", "profile", "email", "offline_access"]);

/** RFC 6749 §3.3: the requested scopes, each registered for the client, or the client's default. */
function grantedScope(registered: string[], requested: string | undefined): string {
  if (requested === undefined) return registered.filter((s) => !END_USER_SCOPES.has(s)).join(" ");
  const wanted = parseScope(requested);
  for (const scope of wanted) {
    if (END_USER_SCOPES.has(scope)) throw new InvalidScope(`scope "${scope}" needs an end user and cannot be granted to the app itself`);
    if (!registered.includes(scope)) throw new InvalidScope(`the app is not registered for scope "${scope}"`);
  }
  return wanted.join(" ");
}

/** The scope of a token for a resource: its scopes (resource-indicators.ts), none of which needs an end user. */
function resourceScope(client: GrantContext["client"], resource: ProtectedResource, requested: string | undefined): string {
  const wanted = parseScope(requested);
  for (const scope of wanted)
    if (END_USER_SCOPES.has(scope)) throw new InvalidScope(`scope "${scope}" needs an end user and cannot be granted to the app itself`);
  return resourceScopes(client, resource, wanted).join(" ");
}

export async function handle({ services, client, params }: GrantContext): Promise<TokenResponse> {
  if (client.isPublic) throw new UnauthorizedClient("public clients cannot use client_credentials");
  const resource = await targetResource(services, params.get("resource"));
  const scope = resource ? resourceScope(client, resource, params.get("scope")) : grantedScope(client.scopes, params.get("scope"));
  const { accessToken, expiresIn } = await issueAccessToken(services, { client, subject: client.id, scope, audience: resource?.uri });
  return { access_token: accessToken, token_type: "Bearer", expires_in: expiresIn, scope };
}
