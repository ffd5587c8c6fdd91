/**
 * `npm run demo`: the broker, a sample upstream service and a sample app on
 * 127.0.0.1, ready to click through. The npm script has already written
 * `.env` (`authbroker init --if-missing`); this embeds PostgreSQL and Redis
 * where none is configured or running (as `npm start` does), migrates the
 * database, and stops what it embedded when the demo stops.
 *
 *   PORT                  the broker's port (default 3000)
 *   DEMO_APP_PORT         the sample app's port (default 4000)
 *   DEMO_ACME_CLOUD_PORT  Acme Cloud's port (default 4001)
 *   DEMO_BIND_HOST        where the servers listen (default 127.0.0.1; 0.0.0.0 in Docker)
 *   LOG_LEVEL             the broker's log level (default warn here)
 *
 * Ctrl-C stops everything.
 */
import { existsSync } from "node:fs";
import { startDevelopmentDefaults, type DevelopmentDefaults } from "../src/cli/development-defaults.js";
import { migrateDatabase } from "../src/cli/migrations.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/log.js";
import { startDemo, type Demo } from "./start.js";

if (existsSync(".env")) process.loadEnvFile(".env");

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    console.error(`demo: ${name} must be a port number (1-65535), not ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

function banner(demo: Demo): string {
  const alice = demo.users[0]!;
  const bob = demo.users[1]!;
  return [
    "",
    "  authbroker demo is running",
    "",
    `  1. Open the sample app:   ${demo.appUrl}`,
    '     Click "Connect Acme Cloud" (or "Choose a service…" for the broker\'s picker).',
    `  2. Sign in at Acme Cloud: username ${alice.username}, password ${alice.password}   (or ${bob.username} / ${bob.password})`,
    "     and allow access. The app then shows your files, fetched through the broker's proxy.",
    ...(demo.broker.services.connectors.has("acme-cloud-server")
      ? [`  3. "Choose a service…" also offers Acme Cloud (self-hosted): its server address is ${new URL(demo.acmeCloudUrl).host}`]
      : []),
    ...(demo.broker.services.connectors.has("acme-cloud-keys")
      ? [`     and Acme Cloud (API key): ${alice.username}'s key is ${alice.apiKey}, ${bob.username}'s ${bob.apiKey}`]
      : []),
    `  The same in a popup (the connect widget, ${demo.brokerUrl}/connect.js): ${demo.appUrl}/widget`,
    `  An AI agent? Point an MCP client at ${demo.mcpServerUrl} ("Acme Files": the broker is its authorization server; docs/agents.md)`,
    "",
    `  Broker:       ${demo.brokerUrl}   (discovery: ${demo.brokerUrl}/.well-known/openid-configuration)`,
    `  Acme Cloud:   ${demo.acmeCloudUrl}   (the sample upstream: OpenID provider and files API)`,
    `  Admin API:    ${demo.brokerUrl}/admin/v1/accounts with "Authorization: Bearer $BROKER_ADMIN_TOKEN" (from .env)`,
    "",
    "  Press Ctrl-C to stop.",
    "",
  ].join("\n");
}

function explain(err: unknown): string {
  const error = err as NodeJS.ErrnoException & { port?: number };
  if (error.code === "EADDRINUSE")
    return `a port is in use (${error.message}): stop what uses it, or set PORT / DEMO_APP_PORT / DEMO_ACME_CLOUD_PORT / DEMO_MCP_PORT`;
  return error.message ?? String(err);
}

let demo: Demo;
let defaults: DevelopmentDefaults | undefined;
try {
  defaults = await startDevelopmentDefaults(process.env, createLogger(process.env.LOG_LEVEL || "info"));
  await migrateDatabase(loadConfig().databaseUrl);
  demo = await startDemo({
    env: process.env,
    brokerPort: port("PORT", 3000),
    appPort: port("DEMO_APP_PORT", 4000),
    acmeCloudPort: port("DEMO_ACME_CLOUD_PORT", 4001),
    mcpPort: port("DEMO_MCP_PORT", 4002),
    bindHost: process.env.DEMO_BIND_HOST || "127.0.0.1",
    say: (line) => console.log(`sample app: ${line}`),
  });
} catch (err) {
  console.error(`demo: could not start: ${explain(err)}`);
  await defaults?.stop();
  process.exit(1);
}
console.log(banner(demo));

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\ndemo: ${signal}, stopping…`);
  demo
    .stop()
    .then(() => defaults?.stop())
    .then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`demo: stop failed: ${explain(err)}`);
        process.exit(1);
      },
    );
};
process.once("SIGINT", () => stop("SIGINT"));
process.once("SIGTERM", () => stop("SIGTERM"));
