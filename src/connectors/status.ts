/**
 * Whether a connector has the broker's upstream client credentials, and
 * where they come from: what `connectors list` and the admin API show.
 */
import { DEFAULT_APP_KEY, usesClientCredentials } from "./credentials.js";
import type { ConnectorConfig } from "./schema.js";

/** Where a connector's upstream client credentials are, as `connectors list` shows them. */
export interface CredentialStatus {
  configured: boolean | "some apps";
  credentials: string;
}

export function credentialStatus(connector: ConnectorConfig, stored: string[] | undefined): CredentialStatus {
  if (!usesClientCredentials(connector)) return { configured: true, credentials: "end users enter their own" };
  const auth = connector.auth;
  const inFile = "clientId" in auth && auth.clientId !== undefined && (auth.clientSecret !== undefined || ("tokenAuthMethod" in auth && auth.tokenAuthMethod === "private_key_jwt"));
  if (stored?.includes(DEFAULT_APP_KEY)) return { configured: true, credentials: "database" };
  if (inFile) return { configured: true, credentials: connector.source.missingEnv.length ? "file (partly)" : "file" };
  if (stored?.length) return { configured: "some apps", credentials: `database, for ${stored.length} app(s)` };
  const env = connector.source.missingEnv.length ? `set ${connector.source.missingEnv.join(", ")} or ` : "";
  return { configured: false, credentials: `needs credentials: ${env}run \`authbroker credentials set ${connector.id}\`` };
}

