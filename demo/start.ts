/**
 * The whole demo in one process, on 127.0.0.1: Acme Cloud (a sample upstream
 * service), the broker (`serve` and the worker, as `npm start` runs them)
 * with the connectors of demo/connectors/, the demo app registered with the
 * broker, the sample app, and "Acme Files", an MCP server registered as a
 * protected resource with the broker in front of it (demo/mcp-server.ts). `npm run demo` (demo/main.ts) and the
 * end-to-end tests (test/e2e/) both start it through `startDemo`.
 */
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../src/config.js";
import { callbackPathFor } from "../src/connectors/context.js";
import { createLogger, type Logger } from "../src/log.js";
import { startBroker, type RunningBroker } from "../src/main.js";
import { hashSecret, generateSecret } from "../src/crypto/secrets.js";
import type { Services } from "../src/services.js";
import { createResource, findResource } from "../src/oauth/resources.js";
import { ACME_CLOUD_CLIENT_ID, DEMO_USERS, startAcmeCloud, type AcmeCloud, type DemoUser } from "./acme-cloud.js";
import { MCP_FILES_SCOPE, startDemoMcpServer, type DemoMcpServer } from "./mcp-server.js";
import { SAMPLE_APP_EXTRA_SCOPES, SAMPLE_APP_SCOPES, startSampleApp, type SampleApp } from "./sample-app.js";

/** The demo's connector files. */
export const DEMO_CONNECTORS_DIR = fileURLToPath(new URL("./connectors/", import.meta.url));
/** The name the demo app is registered under; a second start finds it by this name. */
export const DEMO_APP_NAME = "Files Viewer (sample app)";

export interface DemoOptions {
  /** The environment the broker's configuration is read from (DATABASE_URL, REDIS_URL, BROKER_ENCRYPTION_KEYS…). */
  env: NodeJS.ProcessEnv;
  /** 0 picks a free port. @defaultValue PORT of `env`, else 3000 */
  brokerPort?: number;
  /** @defaultValue 4000 */
  appPort?: number;
  /** @defaultValue 4001 */
  acmeCloudPort?: number;
  /** The demo MCP server's port. @defaultValue 4002 */
  mcpPort?: number;
  /** Where the servers listen; the URLs stay http://127.0.0.1:PORT (0.0.0.0 in a container with published ports). @defaultValue 127.0.0.1 */
  bindHost?: string;
  /** The broker's logger. @defaultValue pino at LOG_LEVEL, else warn */
  logger?: Logger;
  /** One human-readable line per event of the sample app. */
  say?: (line: string) => void;
}

export interface Demo {
  brokerUrl: string;
  appUrl: string;
  acmeCloudUrl: string;
  /** The demo MCP server's endpoint, also its resource URI at the broker. */
  mcpServerUrl: string;
  /** The demo MCP server's own registration at the broker. */
  mcpClientId: string;
  users: DemoUser[];
  /** The demo app's registration at the broker. */
  appClientId: string;
  broker: RunningBroker;
  acmeCloud: AcmeCloud;
  app: SampleApp;
  mcpServer: DemoMcpServer;
  stop(): Promise<void>;
}

/** A port that was free a moment ago (the broker's URL must be known before Acme Cloud starts). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (address && typeof address !== "string" ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * Registers the demo app, or updates the one a previous start registered
 * (found by name) with a fresh secret: the demo keeps no secret on disk, and
 * a database that already has the app does not collect a new one per start.
 */
export async function registerDemoApp(services: Services, redirectUri: string): Promise<{ clientId: string; clientSecret: string }> {
  const scopes = [...SAMPLE_APP_SCOPES, ...SAMPLE_APP_EXTRA_SCOPES];
  const existing = await services.db.app.findFirst({ where: { name: DEMO_APP_NAME }, orderBy: { createdAt: "asc" } });
  if (!existing) {
    const { client, secret } = await services.clients.create({ name: DEMO_APP_NAME, redirectUris: [redirectUri], scopes });
    return { clientId: client.id, clientSecret: secret! };
  }
  const clientSecret = generateSecret("abs_");
  await services.db.app.update({
    where: { id: existing.id },
    data: {
      secretHash: hashSecret(clientSecret),
      isPublic: false,
      tokenEndpointAuthMethod: "client_secret_basic",
      redirectUris: [redirectUri],
      grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
      responseTypes: ["code"],
      scopes,
      connectors: [],
    },
  });
  services.clients.invalidate(existing.id);
  return { clientId: existing.id, clientSecret };
}

/** The demo MCP server's registration: a confidential app that exchanges its users' tokens (RFC 8693) and acts as itself. */
export const DEMO_MCP_APP_NAME = "Acme Files (MCP server)";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";

/**
 * Registers the MCP server's app (or gives the one of a previous start a
 * fresh secret) and its resource: the URI agents ask tokens for, its scope,
 * and the app that runs it, which may then exchange those tokens.
 */
export async function registerDemoMcpServer(services: Services, resourceUri: string): Promise<{ clientId: string; clientSecret: string }> {
  const existing = await services.db.app.findFirst({ where: { name: DEMO_MCP_APP_NAME }, orderBy: { createdAt: "asc" } });
  let clientId: string;
  let clientSecret: string;
  if (!existing) {
    const { client, secret } = await services.clients.create({ name: DEMO_MCP_APP_NAME, redirectUris: [], grantTypes: ["client_credentials", TOKEN_EXCHANGE] });
    [clientId, clientSecret] = [client.id, secret!];
  } else {
    [clientId, clientSecret] = [existing.id, generateSecret("abs_")];
    await services.db.app.update({
      where: { id: existing.id },
      data: { secretHash: hashSecret(clientSecret), grantTypes: ["client_credentials", TOKEN_EXCHANGE] },
    });
    services.clients.invalidate(existing.id);
  }
  const resource = { name: "Acme Files (demo MCP server)", scopes: [MCP_FILES_SCOPE], appId: clientId };
  if (await findResource(services.db, resourceUri)) await services.db.resource.update({ where: { uri: resourceUri }, data: resource });
  else await createResource(services.db, services.config.issuer, { uri: resourceUri, ...resource });
  return { clientId, clientSecret };
}

export async function startDemo(options: DemoOptions): Promise<Demo> {
  const bindHost = options.bindHost ?? "127.0.0.1";
  const requestedBrokerPort = options.brokerPort ?? Number(options.env.PORT || 3000);
  const brokerPort = requestedBrokerPort === 0 ? await freePort(bindHost) : requestedBrokerPort;
  const brokerUrl = `http://127.0.0.1:${brokerPort}`;
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const close of stops.reverse()) await close().catch(() => undefined);
  };

  try {
    const requestedAcmeCloudPort = options.acmeCloudPort ?? 4001;
    const acmeCloudPort = requestedAcmeCloudPort === 0 ? await freePort(bindHost) : requestedAcmeCloudPort;
    // Each connector has its own redirect URI at the upstream, and a per-server connector one per server.
    const brokerCallbackUrls = [
      `${brokerUrl}${callbackPathFor("acme-cloud")}`,
      `${brokerUrl}${callbackPathFor("acme-cloud-server", `127.0.0.1:${acmeCloudPort}`)}`,
    ];
    const acmeCloud = await startAcmeCloud({ port: acmeCloudPort, host: bindHost, brokerCallbackUrls });
    stops.push(() => acmeCloud.close());

    const allowPrivate = [options.env.BROKER_ALLOW_PRIVATE_HOSTS, "127.0.0.0/8"].filter(Boolean).join(",");
    const brokerEnv: NodeJS.ProcessEnv = {
      ...options.env,
      PORT: String(brokerPort),
      HOST: bindHost,
      BROKER_ISSUER: brokerUrl,
      CONNECTORS_DIR: DEMO_CONNECTORS_DIR,
      // Acme Cloud runs on loopback, which the broker refuses to call unless told (SSRF defence).
      BROKER_ALLOW_PRIVATE_HOSTS: allowPrivate,
      LOG_LEVEL: options.env.LOG_LEVEL || "warn",
      ACME_CLOUD_URL: acmeCloud.url,
      ACME_CLOUD_HOST: new URL(acmeCloud.url).host,
      ACME_CLOUD_CLIENT_ID: ACME_CLOUD_CLIENT_ID,
      ACME_CLOUD_CLIENT_SECRET: acmeCloud.clientSecret,
    };
    const config = loadConfig(brokerEnv);
    const broker = await startBroker("all", config, options.logger ?? createLogger(config.logLevel), brokerEnv);
    stops.push(() => broker.stop());

    const appPort = options.appPort === 0 ? await freePort(bindHost) : (options.appPort ?? 4000);
    const { clientId, clientSecret } = await registerDemoApp(broker.services, `http://127.0.0.1:${appPort}/callback`);
    const app = await startSampleApp({ brokerUrl, clientId, clientSecret, port: appPort, host: bindHost, log: options.say });
    stops.push(() => app.close());

    // The MCP server's URI is its resource URI, so its port is fixed before it registers.
    const mcpPort = options.mcpPort === 0 ? await freePort(bindHost) : (options.mcpPort ?? 4002);
    const mcp = await registerDemoMcpServer(broker.services, `http://127.0.0.1:${mcpPort}/mcp`);
    const mcpServer = await startDemoMcpServer({
      brokerUrl,
      ...mcp,
      port: mcpPort,
      host: bindHost,
      connectors: { files: "acme-cloud", keyFiles: "acme-cloud-keys" },
    });
    stops.push(() => mcpServer.close());

    return {
      brokerUrl,
      appUrl: app.url,
      acmeCloudUrl: acmeCloud.url,
      mcpServerUrl: mcpServer.url,
      mcpClientId: mcp.clientId,
      users: DEMO_USERS,
      appClientId: clientId,
      broker,
      acmeCloud,
      app,
      mcpServer,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
