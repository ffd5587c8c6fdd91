/**
 * Reloading the connector files of a running broker. Each file is checked
 * on its own before it replaces what it served: a valid file replaces its
 * previous version, an invalid one leaves its previous version serving and
 * says why (one log line per file, and the file's status in the registry),
 * a file that is gone takes its connector with it. A broker never drops a
 * working connector because a file was saved half-edited.
 *
 * What triggers a reload is live.ts (the files changing, SIGHUP,
 * `authbroker connectors reload`, the admin API).
 */
import { join } from "node:path";
import type { Logger } from "../log.js";
import { checkConnectorFile, connectorFileNames, displayPath } from "./loader.js";
import type { ConnectorFileStatus, ConnectorRegistry } from "./registry.js";
import type { ConnectorConfig } from "./schema.js";

export interface ReloadResult {
  /** Files whose new version now serves (new or changed). */
  loaded: string[];
  /** Invalid files (their previous version, if any, still serves). */
  rejected: string[];
  /** Connectors whose file is gone. */
  removed: string[];
  /** Files that did not change. */
  unchanged: number;
}

/** Whether two parsed versions of a file say the same thing. */
function sameConnector(a: ConnectorConfig, b: ConnectorConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export async function reloadConnectors(registry: ConnectorRegistry, dir: string, env: NodeJS.ProcessEnv, log: Logger): Promise<ReloadResult> {
  const result: ReloadResult = { loaded: [], rejected: [], removed: [], unchanged: 0 };
  const listing = await connectorFileNames(dir);
  if (listing.error) {
    // The directory itself is unreadable (a mount gone): keep serving everything rather than drop it all.
    log.error({ dir: displayPath(dir), problem: listing.error.message }, "connector directory cannot be read; every connector keeps its previous version");
    return result;
  }
  const previousByFile = new Map(registry.list().map((c) => [c.source.file, c]));
  const previousStatus = new Map(registry.fileStatuses().map((f) => [f.file, f]));
  const serving = new Map<string, ConnectorConfig>();
  const files: ConnectorFileStatus[] = [];
  const now = new Date();

  for (const name of listing.names) {
    const check = await checkConnectorFile(join(dir, name), env);
    const file = displayPath(join(dir, name));
    const previous = previousByFile.get(file);
    const problems = check.errors.map((e) => e.message);
    const taken = check.connector && serving.get(check.connector.id);
    if (taken) problems.push(`${file}: id: "${check.connector!.id}" is already used by ${taken.source.file}`);
    if (check.connector && problems.length === 0) {
      const unchanged = previous !== undefined && sameConnector(previous, check.connector);
      serving.set(check.connector.id, unchanged ? previous : check.connector);
      const loadedAt = unchanged && previousStatus.get(file)?.status === "loaded" ? previousStatus.get(file)!.loadedAt : now;
      files.push({ file, connectorId: check.connector.id, status: "loaded", problems: [], keptPrevious: false, loadedAt });
      if (unchanged) result.unchanged++;
      else result.loaded.push(file);
      continue;
    }
    // Invalid: its last valid version keeps serving, unless another file now holds that id.
    const keep = previous !== undefined && !serving.has(previous.id);
    if (keep) serving.set(previous.id, previous);
    files.push({
      file,
      connectorId: keep ? previous.id : undefined,
      status: "rejected",
      problems,
      keptPrevious: keep,
      loadedAt: keep ? (previousStatus.get(file)?.loadedAt ?? now) : now,
    });
    result.rejected.push(file);
    log.warn({ file, problems, keptPrevious: keep }, keep ? "connector file rejected; its previous version keeps serving" : "connector file rejected");
  }

  for (const [file, connector] of previousByFile) {
    if (!files.some((f) => f.file === file)) {
      result.removed.push(connector.id);
      log.info({ file, connectorId: connector.id }, "connector file removed; its connector is no longer served");
    }
  }
  registry.replace(serving.values(), files);
  if (result.loaded.length + result.rejected.length + result.removed.length > 0) {
    log.info({ loaded: result.loaded, rejected: result.rejected, removed: result.removed, unchanged: result.unchanged }, "connectors reloaded");
  }
  return result;
}
