/**
 * The grants of the token endpoint, one module each, in one list. Adding a
 * grant is one new module and one line here: the token endpoint builds its
 * map from the list, discovery lists it as `grant_types_supported`, and app
 * registration (the CLI, the admin API) accepts exactly its grant types.
 */
import * as authorizationCode from "./authorization-code.js";
import * as clientCredentials from "./client-credentials.js";
import * as deviceCode from "./device-code.js";
import type { Grant } from "./grant.js";
import * as refreshToken from "./refresh-token.js";
import * as tokenExchange from "./token-exchange.js";

export type { Grant, GrantContext, TokenResponse } from "./grant.js";

const GRANTS = [authorizationCode, refreshToken, clientCredentials, deviceCode, tokenExchange] as const satisfies readonly Grant[];

export type GrantType = (typeof GRANTS)[number]["grantType"];

/** Every grant type the broker implements, in the list's order: what an app may be registered for. */
export const GRANT_TYPES: readonly GrantType[] = GRANTS.map((g) => g.grantType);

/** The grants by `grant_type`. */
export function buildGrants(): ReadonlyMap<string, Grant> {
  return new Map(GRANTS.map((g) => [g.grantType, g]));
}
