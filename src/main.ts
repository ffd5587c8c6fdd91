/**
 * Composition root. One process plays one of three roles: `serve` (HTTP),
 * `worker` (BullMQ consumers) or `all` (both). Every dependency is built here
 * and passed down; SIGTERM/SIGINT stop accepting work, drain, close pools.
 */
import { loadConfig, type Config } from "./config.js";
import { createApp, type RouterFactory } from "./http/app.js";
import { listen, type RunningServer } from "./http/server.js";
import { createLogger, type Logger } from "./log.js";
import { checkPostgres, checkRedis } from "./preflight.js";
import { closeServices, createServices, type Services } from "./services.js";
import { startWorker, type RunningWorker } from "./worker/run.js";
import { authorizeRouter } from "./oauth/authorize.js";
import { callbackRouter } from "./connect/callback.js";
import { discoveryRouter } from "./oauth/discovery.js";
import { jwksRouter } from "./oauth/jwks.js";
import { tokenRouter } from "./oauth/token.js";

export type Role = "serve" | "worker" | "all";

/** The routers of the broker's parts, in mounting order. */
export async function brokerRouters(): Promise<RouterFactory[]> {
  return [discoveryRouter, jwksRouter, authorizeRouter, tokenRouter, callbackRouter];
}

export interface RunningBroker {
  services: Services;
  server: RunningServer | undefined;
  worker: RunningWorker | undefined;
  stop(): Promise<void>;
}

export async function startBroker(role: Role, config: Config = loadConfig(), log: Logger = createLogger(config.logLevel)): Promise<RunningBroker> {
  await checkPostgres(config.databaseUrl, { requireSchema: true });
  await checkRedis(config.redisUrl);
  const services = await createServices(config, log);
  let server: RunningServer | undefined;
  let worker: RunningWorker | undefined;
  try {
    if (role === "serve" || role === "all") {
      await services.signingKeys.ensureCurrent();
      server = await listen(createApp(services, await brokerRouters()), config.port, config.host);
      log.info({ url: server.url, issuer: config.issuer, role }, "authbroker listening");
    }
    if (role === "worker" || role === "all") worker = await startWorker(services);
  } catch (err) {
    await server?.close(0);
    await closeServices(services);
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    services,
    server,
    worker,
    stop: () =>
      (stopping ??= (async () => {
        await server?.close(config.shutdownGraceMs);
        await worker?.close();
        await closeServices(services);
      })()),
  };
}

/** Runs a role until SIGTERM/SIGINT, then shuts down cleanly. */
export async function runUntilSignal(role: Role): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const broker = await startBroker(role, config, log);
  const shutdown = (signal: string) => {
    log.info({ signal }, "shutting down");
    broker.stop().then(
      () => {
        log.flush();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        log.flush();
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}
