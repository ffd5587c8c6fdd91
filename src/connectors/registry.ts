/** The loaded connectors, by id. Built once at start; read-only afterwards. */
import type { ConnectorConfig } from "./schema.js";

export class ConnectorRegistry {
  private readonly byId: ReadonlyMap<string, ConnectorConfig>;

  constructor(connectors: Iterable<ConnectorConfig>) {
    const byId = new Map<string, ConnectorConfig>();
    for (const connector of connectors) {
      if (byId.has(connector.id)) throw new TypeError(`connector id "${connector.id}" appears twice`);
      byId.set(connector.id, connector);
    }
    this.byId = byId;
  }

  get(id: string): ConnectorConfig | undefined {
    return this.byId.get(id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Every connector, in id order. */
  list(): ConnectorConfig[] {
    return [...this.byId.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  get size(): number {
    return this.byId.size;
  }
}
