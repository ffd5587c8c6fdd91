/**
 * Building and closing a broker's long-lived parts (services.ts): the one
 * place that wires them, for the roles (main.ts), the CLI, tests and benches.
 */
import type { Config } from "./config.js";
import { Keyring } from "./crypto/keyring.js";
import { SigningKeys } from "./crypto/signing-keys.js";
import { createDb, type Db } from "./db.js";
import type { Logger } from "./log.js";
import { Clients } from "./apps/clients.js";
import { ClientMetadataDocuments } from "./apps/metadata-documents.js";
import { GRANT_TYPES } from "./oauth/grants/index.js";
import { createRedis, whenReady, type Redis } from "./redis.js";
import { closeRevocationCache } from "./revocation/revocation-cache.js";
import { AddressPolicy } from "./net/address-policy.js";
import { Outbound } from "./net/outbound.js";
import { loadConnectors } from "./connectors/loader.js";
import { ConnectorRegistry } from "./connectors/registry.js";
import { serializedReload } from "./connectors/live.js";
import { existsSync } from "node:fs";
import { loadBuiltInKinds, type AuthKinds } from "./connectors/kinds/index.js";
import { Queues } from "./jobs/queues.js";
import { Metrics } from "./metrics.js";
import type { Services } from "./services.js";

export async function createServices(config: Config, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<Services> {
  // Connector files first: a bad one stops the start with one line, before any connection is opened.
  // A missing default directory means "no connectors yet"; a directory the operator named must exist.
  const connectors =
    env.CONNECTORS_DIR === undefined && !existsSync(config.connectorsDir) ? new ConnectorRegistry([]) : await loadConnectors(config.connectorsDir, env);
  const keyring = await Keyring.create(config.encryptionKeys);
  const db = createDb(config.databaseUrl);
  const redis = createRedis(config.redisUrl);
  // A Redis outage is reported by /readyz and by the requests that need it;
  // the client reconnects by itself. Without a listener ioredis would print
  // every failed attempt as an unhandled error.
  let redisDown = false;
  redis.on("error", (err: Error) => {
    if (!redisDown) log.warn({ err: { message: err.message } }, "redis unreachable, reconnecting");
    redisDown = true;
  });
  redis.on("ready", () => {
    if (redisDown) log.info("redis reachable again");
    redisDown = false;
  });
  const clients = new Clients(db, config.tokenLifetimeLimits, GRANT_TYPES, undefined, config.allowPrivateHosts);
  const outbound = new Outbound(new AddressPolicy(config.allowPrivateHosts), { extraCa: config.outboundCa });
  return {
    config,
    log,
    db,
    redis,
    keyring,
    signingKeys: new SigningKeys(db, keyring),
    clients,
    clientMetadataDocuments: new ClientMetadataDocuments(db, outbound, clients),
    outbound,
    connectors,
    reloadConnectors: serializedReload(connectors, config.connectorsDir, env, log),
    kinds: await loadBuiltInKinds(),
    queues: new Queues(config.redisUrl, config.queuePrefix, config.webhookRetry),
    metrics: new Metrics(),
  };
}

/** A Redis that accepts connections but never answers must not hold shutdown: QUIT gets this long, then the socket is dropped. */
const REDIS_QUIT_TIMEOUT_MS = 2_000;
/** How long closing waits for a connected client's ready check (a round trip to Redis). */
const READY_CHECK_WAIT_MS = 500;

async function quitRedis(redis: Redis): Promise<void> {
  // A client still in its ready check (a CLI verb that never used Redis) would
  // fail that check on QUIT, and ioredis would then hold the process for its
  // 2 s disconnect timer: let the check finish first (one round trip).
  if (redis.status === "connect") await whenReady(redis, READY_CHECK_WAIT_MS).catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), REDIS_QUIT_TIMEOUT_MS)));
  const outcome = await Promise.race([
    redis.quit().then(
      () => "quit" as const,
      () => "failed" as const,
    ),
    timedOut,
  ]);
  clearTimeout(timer);
  if (outcome !== "quit") redis.disconnect();
}

export async function closeServices(services: Services): Promise<void> {
  closeRevocationCache(services.redis);
  await Promise.allSettled([services.queues.close(), services.outbound.close(), services.db.$disconnect(), quitRedis(services.redis)]);
}
