/**
 * Composition root. One process plays one of three roles: `serve` (HTTP),
 * `worker` (BullMQ consumers) or `all` (both). Every dependency is built here
 * and passed down; SIGTERM/SIGINT stop accepting work, drain, close pools.
 */
import { issuerPortMismatch, loadConfig, type Config } from "./config.js";
import { createApp, type RequestListener } from "./http/app.js";
import { listen, type RunningServer } from "./http/server.js";
import { createLogger, type Logger } from "./log.js";
import { checkPostgres, checkRedis } from "./preflight.js";
import { closeServices, createServices } from "./compose.js";
import { whenReady } from "./redis.js";
import { type Services } from "./services.js";
import type { RunningWorker } from "./worker/run.js";
import { existsSync } from "node:fs";
import { watchConnectors } from "./connectors/live.js";
import { SealError } from "./crypto/keyring.js";
import { restoreRevocations } from "./revocation/revocation.js";
import { flushProxyAudit } from "./proxy/router.js";
import { RateLimits } from "./http/rate-limit.js";
import { routeTable } from "./routes.js";

export type Role = "serve" | "worker" | "all";

/** The broker's HTTP request listener: the route table, served with the broker's logger, proxy hops and rate limits. */
export function brokerApp(services: Services, routes = routeTable(services)): RequestListener {
  const { config, log, redis } = services;
  const rateLimits = new RateLimits(redis, { ...config.rateLimit, trustProxyHops: config.trustProxyHops }, config.queuePrefix, log);
  return createApp(routes, { log, trustProxyHops: config.trustProxyHops, rateLimits });
}

/** How long a start waits for the services' Redis client once Redis has answered the preflight. */
const REDIS_READY_TIMEOUT_MS = 15_000;

/** How long closing the worker, and then the pools, may take at shutdown. */
const CLOSE_TIMEOUT_MS = 3_000;

/** Whether `work` settles (either way) within `ms`. */
async function settlesWithin(ms: number, work: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = work.then(
    () => true,
    () => true,
  );
  const result = await Promise.race([settled, timedOut]);
  clearTimeout(timer);
  return result;
}

export interface RunningBroker {
  services: Services;
  server: RunningServer | undefined;
  worker: RunningWorker | undefined;
  stop(): Promise<void>;
}

/**
 * The signing key is the first sealed value a broker opens. When it cannot,
 * the database was almost always set up with another keyring (a lost or
 * regenerated .env): say what fixes that.
 */
function withKeyringHint(err: SealError): SealError {
  return new SealError(`${err.description}; restore the BROKER_ENCRYPTION_KEYS this database was set up with, or use a new database (DATABASE_URL)`, {
    cause: err,
  });
}

/**
 * Closes the services' pools and connections, or drops them when that takes
 * longer than CLOSE_TIMEOUT_MS: closing ioredis waits on Redis (and the pools
 * on Postgres), and a dependency that is down must not hold the process.
 */
async function closeServicesWithin(services: Services, log: Logger): Promise<void> {
  if (await settlesWithin(CLOSE_TIMEOUT_MS, closeServices(services))) return;
  services.redis.disconnect();
  log.warn({ timeoutMs: CLOSE_TIMEOUT_MS }, "connections did not close in time; dropped them");
}

/**
 * `env` is what connector files' `${env:…}` references read (the demo passes
 * its upstream's URL there). `signal` ends a start that is still under way
 * (a shutdown signal): the start rejects with its reason, having closed what it had opened.
 */
export async function startBroker(
  role: Role,
  config: Config = loadConfig(),
  log: Logger = createLogger(config.logLevel),
  env: NodeJS.ProcessEnv = process.env,
  signal?: AbortSignal,
): Promise<RunningBroker> {
  await checkPostgres(config.databaseUrl, { requireSchema: true });
  await checkRedis(config.redisUrl);
  const services = await createServices(config, log, env);
  let server: RunningServer | undefined;
  let worker: RunningWorker | undefined;
  try {
    // Redis answered the preflight, but the services' client fails commands
    // until its own connection is ready (no offline queue): the revocation
    // restore and the reconciler's lock come next, so wait for it.
    await whenReady(services.redis, REDIS_READY_TIMEOUT_MS);
    if (role === "serve" || role === "all") {
      await services.signingKeys.ensureCurrent().catch((err: unknown) => {
        throw err instanceof SealError ? withKeyringHint(err) : err;
      });
      // Redis may have lost the revocation keys of JWT access tokens; the database has them.
      await restoreRevocations(services);
      server = await listen(brokerApp(services), config.port, config.host);
      log.info({ url: server.url, issuer: config.issuer, role }, "authbroker listening");
      const mismatch = issuerPortMismatch(config);
      if (mismatch) log.warn({ issuer: config.issuer, port: config.port }, mismatch);
    }
    // Loaded only by the roles that run it: a `serve` process never holds the worker's modules.
    if (role === "worker" || role === "all") {
      const { startWorker } = await import("./worker/run.js");
      signal?.throwIfAborted();
      worker = await startWorker(services, { signal });
    }
  } catch (err) {
    await server?.close(0);
    await closeServicesWithin(services, log);
    throw err;
  }
  // Connector files change without a restart (connectors/live.ts); a missing default directory has nothing to watch.
  const connectorWatch = existsSync(config.connectorsDir)
    ? watchConnectors({ dir: config.connectorsDir, reload: services.reloadConnectors, log, redis: services.redis })
    : undefined;
  let stopping: Promise<void> | undefined;
  return {
    services,
    server,
    worker,
    stop: () =>
      (stopping ??= (async () => {
        connectorWatch?.close();
        await server?.close(config.shutdownGraceMs);
        // Audit events of the last proxied calls are batched in memory: write them before the pools close.
        if (server)
          await settlesWithin(
            CLOSE_TIMEOUT_MS,
            flushProxyAudit(services).catch((err: Error) => log.warn({ err: { message: err.message } }, "proxy audit flush failed")),
          );
        // Closing BullMQ and ioredis waits on Redis (and the pools on Postgres):
        // a dependency that is down must not hold the process after HTTP has drained.
        if (worker && !(await settlesWithin(CLOSE_TIMEOUT_MS, worker.close())))
          log.warn({ timeoutMs: CLOSE_TIMEOUT_MS }, "worker did not close in time; leaving it");
        await closeServicesWithin(services, log);
      })()),
  };
}

/** Work around a broker's life in one process: `authbroker dev` starts its embedded servers before and stops them after. */
export interface RunHooks {
  /** Runs before the broker starts; a signal meanwhile ends the process once it has returned. */
  before?: (config: Config, log: Logger) => Promise<void>;
  /** Runs once the broker has stopped, or failed to start, before the process exits. */
  after?: () => Promise<void>;
}

/** Runs a role until SIGTERM/SIGINT, then shuts down cleanly. */
export async function runUntilSignal(role: Role, hooks: RunHooks = {}): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  // Handlers go in before the start: /readyz can answer while the worker is
  // still starting, and a signal then must end the start (or stop the broker
  // once it is up) cleanly, never kill it half-started.
  let broker: RunningBroker | undefined;
  let signalled: string | undefined;
  // A signal during the start ends the start (a worker may be waiting for a Redis that went away).
  const starting = new AbortController();
  const exit = (code: number) => {
    const after = hooks.after?.() ?? Promise.resolve();
    after
      .catch((err: unknown) => {
        log.error({ err }, "stopping what ran beside the broker failed");
        code = 1;
      })
      .finally(() => {
        log.flush();
        process.exit(code);
      });
  };
  const shutdown = (signal: string) => {
    if (signalled === undefined) log.info({ signal }, "shutting down");
    signalled ??= signal;
    if (!broker) return starting.abort(new Error(`start interrupted by ${signal}`));
    broker.stop().then(
      () => exit(0),
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        exit(1);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
  // SIGHUP: reload the connector files (each checked before it replaces its previous version).
  process.on("SIGHUP", () => {
    void broker?.services.reloadConnectors("SIGHUP").catch((err: Error) => log.error({ err: { message: err.message } }, "connector reload failed"));
  });
  try {
    await hooks.before?.(config, log);
    if (signalled) return exit(0);
    broker = await startBroker(role, config, log, process.env, starting.signal);
  } catch (err) {
    // The start ended because a signal asked it to: that is a clean stop.
    if (starting.signal.aborted && err === starting.signal.reason) return exit(0);
    await hooks.after?.();
    throw err;
  }
  if (signalled) shutdown(signalled);
}
