/**
 * The grants of the token endpoint, one module each, in one map built at
 * start. Adding a grant is one new module and one line here; discovery lists
 * the map's keys as `grant_types_supported`.
 */
import * as authorizationCode from "./authorization-code.js";
import * as clientCredentials from "./client-credentials.js";
import * as deviceCode from "./device-code.js";
import type { Grant } from "./grant.js";
import * as refreshToken from "./refresh-token.js";
import * as tokenExchange from "./token-exchange.js";

export type { Grant, GrantContext, TokenResponse } from "./grant.js";

const GRANTS: readonly Grant[] = [authorizationCode, refreshToken, clientCredentials, deviceCode, tokenExchange];

/** The grants by `grant_type`; `enabled` restricts them (every grant when omitted). */
export function buildGrants(enabled?: readonly string[]): ReadonlyMap<string, Grant> {
  const grants = enabled ? GRANTS.filter((g) => enabled.includes(g.grantType)) : GRANTS;
  return new Map(grants.map((g) => [g.grantType, g]));
}
