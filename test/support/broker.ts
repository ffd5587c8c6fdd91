/**
 * A real broker for integration tests: its own database, the local Redis,
 * connector files written to a temporary directory, listening on 127.0.0.1
 * at a port known before start (so upstreams can be told its callback URL).
 */
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { callbackPathFor } from "../../src/connectors/context.js";
import { listen, type RunningServer } from "../../src/http/server.js";
import { brokerApp } from "../../src/main.js";
import { createTestServices, type TestServices } from "./services.js";
import { freePort } from "./ports.js";

/** The broker's redirect URI at a connector's upstream (and at one server of a per-server connector). */
export type CallbackUrlOf = (connectorId: string, hostname?: string) => string;

export interface TestBroker {
  url: string;
  callbackUrl: CallbackUrlOf;
  services: TestServices;
  server: RunningServer;
  stop(): Promise<void>;
}

export interface TestBrokerOptions {
  /** Connector files by file name (`acme.json` → object written as JSON, `x.yaml` → string). */
  connectors?: Record<string, unknown>;
  env?: Record<string, string | undefined>;
  port?: number;
}

/** Reserve the broker's port first when upstreams must know its callback URL. */
export async function reserveBrokerUrl(): Promise<{ port: number; url: string; callbackUrl: CallbackUrlOf }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  return { port, url, callbackUrl: callbackUrlsOf(url) };
}

function callbackUrlsOf(url: string): CallbackUrlOf {
  return (connectorId, hostname) => `${url}${callbackPathFor(connectorId, hostname)}`;
}

export async function startTestBroker(options: TestBrokerOptions = {}): Promise<TestBroker> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), "authbroker-connectors-"));
  for (const [file, content] of Object.entries(options.connectors ?? {})) {
    writeFileSync(join(dir, file), typeof content === "string" ? content : JSON.stringify(content, null, 2));
  }
  const services = await createTestServices({ BROKER_ISSUER: url, CONNECTORS_DIR: dir, ...options.env });
  let server: RunningServer;
  try {
    await services.signingKeys.ensureCurrent();
    server = await listen(brokerApp(services), port, "127.0.0.1");
  } catch (err) {
    // Its connections would keep the test process alive until the file's timeout.
    await services.teardown();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    callbackUrl: callbackUrlsOf(url),
    services,
    server,
    stop: async () => {
      await server.close(1_000);
      await services.teardown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
