/**
 * The loaded connectors, by id, and where each came from. Built at start;
 * replaced as a whole when the connector files change (reload.ts), so every
 * reader — each holds this one object and looks a connector up when it
 * needs it — sees either the old set or the new one, never a mix.
 */
import type { ConnectorConfig } from "./schema.js";

/** What became of one connector file at the last load. */
export interface ConnectorFileStatus {
  /** The file, as named in error messages. */
  file: string;
  /** The connector the file serves now (the previous version's, when the file was rejected); none when it serves none. */
  connectorId?: string;
  /** `loaded`: the file as it is now; `rejected`: it is invalid (`problems` says why), and `keptPrevious` says whether its last valid version still serves. */
  status: "loaded" | "rejected";
  problems: string[];
  keptPrevious: boolean;
  /** When the version that serves was loaded. */
  loadedAt: Date;
}

export class ConnectorRegistry {
  private byId: ReadonlyMap<string, ConnectorConfig>;
  private files: readonly ConnectorFileStatus[];

  constructor(connectors: Iterable<ConnectorConfig>, files?: ConnectorFileStatus[]) {
    this.byId = indexById(connectors);
    const now = new Date();
    this.files =
      files ??
      [...this.byId.values()].map((c) => ({
        file: c.source.file,
        connectorId: c.id,
        status: "loaded" as const,
        problems: [],
        keptPrevious: false,
        loadedAt: now,
      }));
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

  /** Every connector file of the last load, in file order. */
  fileStatuses(): ConnectorFileStatus[] {
    return [...this.files].sort((a, b) => a.file.localeCompare(b.file));
  }

  /** When the serving version of a connector was loaded. */
  loadedAt(id: string): Date | undefined {
    return this.files.find((f) => f.connectorId === id)?.loadedAt;
  }

  /** Replaces every connector at once (a reload). */
  replace(connectors: Iterable<ConnectorConfig>, files: ConnectorFileStatus[]): void {
    this.byId = indexById(connectors);
    this.files = files;
  }
}

function indexById(connectors: Iterable<ConnectorConfig>): Map<string, ConnectorConfig> {
  const byId = new Map<string, ConnectorConfig>();
  for (const connector of connectors) {
    if (byId.has(connector.id)) throw new TypeError(`connector id "${connector.id}" appears twice`);
    byId.set(connector.id, connector);
  }
  return byId;
}
