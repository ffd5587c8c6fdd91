/**
 * RFC 8707 resource indicators on the authorization and token endpoints: the
 * `resource` parameter read and checked, and the scopes a token for that
 * resource may carry. One resource per request (a token has one `aud`);
 * without `resource` nothing changes: the token is for the broker itself
 * (`aud` = the issuer), with the app's registered scopes.
 *
 * Scope rules with a resource:
 * - the scopes asked for must be the resource's own or the identity scopes
 *   (openid profile email offline_access, which the app must be registered
 *   for, as without a resource); anything else is invalid_scope;
 * - none asked: all the resource's scopes, and no identity scope;
 * - a registered resource's scopes are its own, not broker scopes: any app
 *   may ask for them (the resource server decides what they allow);
 * - the built-in proxy resource's scope (`proxy`) is a broker scope: the app
 *   must be registered for it, and connector scopes (`gh:repo.read`) stay
 *   allowed, checked against the connector as without a resource.
 */
import { InvalidGrant, InvalidScope, InvalidTarget } from "../errors.js";
import type { Client } from "../apps/clients.js";
import { IDENTITY_SCOPES, lookupResource, resourceUriProblem, type ProtectedResource } from "./resources.js";
import { splitConnectorScope } from "./scopes.js";

export type { ProtectedResource } from "./resources.js";

/** RFC 8707 §2: a request naming several resources (the form readers report it; this is the one error for it). */
export function severalResources(): InstanceType<typeof InvalidTarget> {
  return new InvalidTarget("resource is repeated: the broker issues each token for one resource, so send one resource per request");
}

/**
 * The resource a `resource` parameter names, or undefined when there is
 * none. invalid_target (RFC 8707 §2) for a value that is not an absolute
 * URI without a fragment, or that names no resource of this broker.
 */
export async function targetResource(services: Parameters<typeof lookupResource>[0], uri: string | undefined): Promise<ProtectedResource | undefined> {
  if (uri === undefined) return undefined;
  const problem = resourceUriProblem(uri);
  if (problem) throw new InvalidTarget(problem);
  const resource = await lookupResource(services, uri);
  if (!resource) throw new InvalidTarget(`resource "${uri}" is not a resource this broker issues tokens for`);
  return resource;
}

/**
 * The scopes a token for `resource` gets when `requested` is asked for
 * (module header: the rules). Throws invalid_scope naming the first scope
 * refused. Connector scopes asked for the proxy are checked later, against
 * the connector (scopes.ts checkRequestedScopes).
 */
export function resourceScopes(client: Pick<Client, "scopes">, resource: ProtectedResource, requested: readonly string[]): string[] {
  if (requested.length === 0) {
    if (resource.builtIn) for (const scope of resource.scopes) requireRegistered(client, scope);
    return [...resource.scopes];
  }
  for (const scope of requested) {
    if (IDENTITY_SCOPES.includes(scope)) requireRegistered(client, scope);
    else if (resource.scopes.includes(scope)) {
      if (resource.builtIn) requireRegistered(client, scope);
    } else if (!(resource.builtIn && splitConnectorScope(scope)))
      throw new InvalidScope(`scope "${scope}" is not a scope of resource "${resource.uri}" (its scopes: ${resource.scopes.join(" ")})`);
  }
  return [...requested];
}

function requireRegistered(client: Pick<Client, "scopes">, scope: string): void {
  if (!client.scopes.includes(scope)) throw new InvalidScope(`the app is not registered for scope "${scope}"`);
}

/**
 * RFC 8707 §2.2: a token request may name the resource again, but only the
 * one its grant (code, refresh token) was given for; a different one is
 * invalid_target. `granted` null: the grant is for the broker itself.
 */
export function checkSameResource(granted: string | null, presented: string | undefined, of: "authorization code" | "refresh token"): void {
  if (presented === undefined || presented === granted) return;
  throw new InvalidTarget(
    granted === null
      ? `the ${of} was issued without a resource: its tokens are for the broker itself, not for "${presented}"`
      : `resource "${presented}" differs from the one the ${of} was issued for`,
  );
}

/**
 * A grant for a resource the operator has since deleted gets no new token
 * (invalid_grant): deleting a resource ends its grants as well.
 */
export async function requireStillRegistered(services: Parameters<typeof lookupResource>[0], uri: string | null): Promise<void> {
  if (uri !== null && !(await lookupResource(services, uri))) throw new InvalidGrant(`resource "${uri}" of this grant is no longer registered`);
}
