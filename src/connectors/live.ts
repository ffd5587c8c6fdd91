/**
 * Keeps a running broker's connectors in step with CONNECTORS_DIR, without
 * a restart: a reload (reload.ts) when a file in the directory changes, and
 * when asked — SIGHUP (main.ts), the admin API, or `authbroker connectors
 * reload`, which publishes on a Redis channel every `serve` and `worker`
 * process listens to (file events do not cross machines, and some mounts,
 * such as Kubernetes ConfigMaps swapped by symlink, may not raise them).
 *
 * Reloads run one at a time; a request during a reload runs once more after
 * it, so the last change is always seen.
 */
import { watch, type FSWatcher } from "node:fs";
import type { Logger } from "../log.js";
import type { Redis } from "../redis.js";
import type { ConnectorRegistry } from "./registry.js";
import { reloadConnectors, type ReloadResult } from "./reload.js";

/** The Redis channel of `authbroker connectors reload`. */
export const CONNECTORS_RELOAD_CHANNEL = "authbroker:connectors:reload";

/** File events come in bursts (an editor writes a temporary file, then renames it): one reload per burst. */
const SETTLE_MS = 250;

/** Reloads the connectors now (after any reload in progress); `reason` goes to the log. */
export type ReloadConnectors = (reason: string) => Promise<ReloadResult>;

/** The one reload function of a process: reloads run one at a time, and a request during one runs once more after it. */
export function serializedReload(registry: ConnectorRegistry, dir: string, env: NodeJS.ProcessEnv, log: Logger): ReloadConnectors {
  let running: Promise<ReloadResult> | undefined;
  let again: Promise<ReloadResult> | undefined;
  const reload: ReloadConnectors = (reason) => {
    if (again) return again;
    if (running) {
      again = running
        .catch(() => undefined)
        .then(() => {
          again = undefined;
          return reload(reason);
        });
      return again;
    }
    log.info({ reason }, "reloading connectors");
    running = reloadConnectors(registry, dir, env, log).finally(() => (running = undefined));
    return running;
  };
  return reload;
}

export interface ConnectorWatch {
  close(): void;
}

export interface ConnectorWatchOptions {
  dir: string;
  reload: ReloadConnectors;
  log: Logger;
  /** Listens to CONNECTORS_RELOAD_CHANNEL on a connection of its own. Absent: no cross-process reloads. */
  redis?: Redis;
}

/** Reloads when a file of `dir` changes, and when `authbroker connectors reload` asks on Redis. */
export function watchConnectors(options: ConnectorWatchOptions): ConnectorWatch {
  const { dir, reload, log } = options;
  const reloadLogged = (reason: string) => void reload(reason).catch((err: Error) => log.error({ err: { message: err.message } }, "connector reload failed"));
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    watcher = watch(dir, () => {
      clearTimeout(timer);
      timer = setTimeout(() => reloadLogged("a connector file changed"), SETTLE_MS);
    });
    watcher.on("error", (err) => log.warn({ err: { message: err.message } }, "stopped watching the connector directory; reload with SIGHUP"));
  } catch (err) {
    log.warn({ dir, err: { message: (err as Error).message } }, "cannot watch the connector directory; reload with SIGHUP or `authbroker connectors reload`");
  }

  const subscriber = options.redis?.duplicate({ lazyConnect: true, enableOfflineQueue: true, maxRetriesPerRequest: null });
  if (subscriber) {
    subscriber.on("error", () => undefined);
    subscriber.on("message", (_channel: string, from: string) => reloadLogged(`asked by ${from.slice(0, 100)}`));
    // ioredis subscribes again by itself after a reconnect.
    subscriber.on("ready", () => void subscriber.subscribe(CONNECTORS_RELOAD_CHANNEL).catch(() => undefined));
    subscriber.connect().catch(() => undefined);
  }

  return {
    close() {
      clearTimeout(timer);
      watcher?.close();
      subscriber?.disconnect();
    },
  };
}

/** Asks every broker process listening on `redis` to reload its connectors; resolves to how many heard it. */
export async function requestConnectorReload(redis: Redis, from: string): Promise<number> {
  return redis.publish(CONNECTORS_RELOAD_CHANNEL, from);
}
