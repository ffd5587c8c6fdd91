/**
 * The long-lived parts of one broker process, built once (compose.ts) and
 * passed to every module that needs them. Nothing here is a module-level
 * singleton, so tests build as many as they like. This module is the type
 * only: every layer may be handed it; only the roles build it.
 */
import type { Config } from "./config.js";
import type { Keyring } from "./crypto/keyring.js";
import type { SigningKeys } from "./crypto/signing-keys.js";
import type { Db } from "./db.js";
import type { Logger } from "./log.js";
import type { Clients } from "./apps/clients.js";
import type { ClientMetadataDocuments } from "./apps/metadata-documents.js";
import type { Redis } from "./redis.js";
import type { Outbound } from "./net/outbound.js";
import type { ConnectorRegistry } from "./connectors/registry.js";
import type { ReloadConnectors } from "./connectors/live.js";
import type { AuthKinds } from "./connectors/kinds/index.js";
import type { Queues } from "./jobs/queues.js";
import type { Metrics } from "./metrics.js";

export interface Services {
  config: Config;
  log: Logger;
  db: Db;
  redis: Redis;
  keyring: Keyring;
  signingKeys: SigningKeys;
  /** Broker OAuth clients (apps), cached for the hot paths. */
  clients: Clients;
  /** Clients whose client_id is the URL of their metadata document: fetched, checked and cached (apps/metadata-documents.ts). */
  clientMetadataDocuments: ClientMetadataDocuments;
  /** SSRF-safe outbound HTTP with keep-alive pools, for every upstream call. */
  outbound: Outbound;
  /** The connectors of CONNECTORS_DIR, validated at start and replaced file by file when they change (connectors/reload.ts). */
  connectors: ConnectorRegistry;
  /** Reloads `connectors` from CONNECTORS_DIR, each file checked before it replaces its previous version. */
  reloadConnectors: ReloadConnectors;
  /** The auth kinds this broker implements. */
  kinds: AuthKinds;
  /** Producers of the refresh and webhook queues (connections opened on first use). */
  queues: Queues;
  metrics: Metrics;
}
