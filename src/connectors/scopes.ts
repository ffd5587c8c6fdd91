/**
 * From the connector scopes an app asked for to the upstream scope strings
 * (docs/authorization-server.md "Scopes"): `files.read` maps through the connector's `scopes`
 * table, `raw:<upstream scope>` passes through where the connector allows.
 */
import { InvalidScope } from "../errors.js";
import type { ConnectorFile } from "./schema.js";

const RAW_PREFIX = "raw:";

/**
 * The de-duplicated upstream scopes for the connector-local names an app
 * requested (`files.read`, `raw:drive.admin`), in request order. With none
 * requested, the mapping of the connector's `defaultScopes`. Throws
 * InvalidScope for a name the connector does not offer.
 */
export function upstreamScopesFor(connector: Pick<ConnectorFile, "id" | "scopes" | "defaultScopes" | "allowRawScopes">, requested: string[]): string[] {
  const names = requested.length > 0 ? requested : connector.defaultScopes;
  const upstream = new Set<string>();
  for (const name of names) {
    if (name.startsWith(RAW_PREFIX)) {
      const raw = name.slice(RAW_PREFIX.length);
      if (!connector.allowRawScopes) throw new InvalidScope(`connector "${connector.id}" does not allow raw upstream scopes`);
      // RFC 6749 §3.3 scope-token: no whitespace, so one raw scope cannot smuggle several.
      if (!/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(raw)) throw new InvalidScope(`"${name}" names no valid upstream scope`);
      upstream.add(raw);
      continue;
    }
    if (!Object.hasOwn(connector.scopes, name)) throw new InvalidScope(`connector "${connector.id}" has no scope "${name}"`);
    for (const scope of connector.scopes[name]!) upstream.add(scope);
  }
  return [...upstream];
}
