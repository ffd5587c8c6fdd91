/**
 * Whether a connector has the broker's upstream client credentials, and
 * where they come from: what `connectors list` and the admin API show.
 */
import { DEFAULT_APP_KEY, type StoredCredentialRows } from "./credentials.js";
import { usesClientCredentials } from "./kinds/catalog.js";
import type { ConnectorConfig } from "./schema.js";
import { sendsClientCredentialsToServer } from "./template.js";

/** Where a connector's upstream client credentials are, as `connectors list` shows them. */
export interface CredentialStatus {
  configured: boolean | "some apps";
  credentials: string;
  /** Per-server connectors whose credentials go to the server: the servers registered with the broker. */
  servers?: string[];
}

export function credentialStatus(connector: ConnectorConfig, stored: StoredCredentialRows | undefined): CredentialStatus {
  if (!usesClientCredentials(connector)) return { configured: true, credentials: "end users enter their own" };
  const connectorWide = connectorWideStatus(connector, stored?.appKeys ?? []);
  if (!sendsClientCredentialsToServer(connector)) return connectorWide;
  // The connector-wide credentials serve only the servers the file lists; every other server needs its own.
  const servers = [...(stored?.servers ?? [])].sort();
  const shared = connector.hostname?.sharedCredentialHosts ?? [];
  const sharedUsable = shared.length > 0 && connectorWide.configured !== false;
  const parts = [
    servers.length ? `database, for ${servers.length} server(s)` : undefined,
    sharedUsable ? `${connectorWide.credentials}, shared with ${shared.join(", ")}` : undefined,
  ].filter(Boolean);
  if (parts.length) return { configured: true, credentials: parts.join("; "), servers };
  return {
    configured: false,
    credentials: `needs servers: run \`authbroker credentials set ${connector.id} --hostname <server> …\` for each server that registered the broker`,
    servers,
  };
}

function connectorWideStatus(connector: ConnectorConfig, appKeys: string[]): CredentialStatus {
  const auth = connector.auth;
  const inFile =
    "clientId" in auth &&
    auth.clientId !== undefined &&
    (auth.clientSecret !== undefined || ("tokenAuthMethod" in auth && auth.tokenAuthMethod === "private_key_jwt"));
  if (appKeys.includes(DEFAULT_APP_KEY)) return { configured: true, credentials: "database" };
  if (inFile) return { configured: true, credentials: connector.source.missingEnv.length ? "file (partly)" : "file" };
  if (appKeys.length) return { configured: "some apps", credentials: `database, for ${appKeys.length} app(s)` };
  const env = connector.source.missingEnv.length ? `set ${connector.source.missingEnv.join(", ")} or ` : "";
  return { configured: false, credentials: `needs credentials: ${env}run \`authbroker credentials set ${connector.id}\`` };
}
