/**
 * The auth kinds a broker knows, by name. Built once by the composition root
 * (kinds/index.ts has the built-in set) and passed in, so core code never
 * imports a kind: it asks the registry for the connector's kind, then asks
 * the kind for a capability with the guards of types.ts.
 */
import { ConnectorNotConfigured } from "../errors.js";
import type { ConnectorConfig } from "../schema.js";
import type { AuthKindName } from "./catalog.js";
import type { AuthKind } from "./types.js";

export class AuthKinds {
  private readonly byName: ReadonlyMap<AuthKindName, AuthKind>;

  constructor(kinds: Iterable<AuthKind>) {
    const byName = new Map<AuthKindName, AuthKind>();
    for (const kind of kinds) {
      if (byName.has(kind.kind)) throw new TypeError(`auth kind "${kind.kind}" registered twice`);
      byName.set(kind.kind, kind);
    }
    this.byName = byName;
  }

  has(kind: AuthKindName): boolean {
    return this.byName.has(kind);
  }

  get(kind: AuthKindName): AuthKind | undefined {
    return this.byName.get(kind);
  }

  /** The implementation of a connector's kind; ConnectorNotConfigured when this broker has none. */
  for(connector: ConnectorConfig): AuthKind {
    const kind = this.byName.get(connector.auth.kind);
    if (!kind)
      throw new ConnectorNotConfigured(
        connector.id,
        `connector "${connector.id}" uses auth kind "${connector.auth.kind}", which this broker does not implement yet`,
      );
    return kind;
  }

  /** Kind names with an implementation. */
  names(): AuthKindName[] {
    return [...this.byName.keys()];
  }
}
