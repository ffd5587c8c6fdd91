/**
 * The broker's own credentials at an upstream (its OAuth client id and
 * secret there, or its private key), per app or connector-wide, and for
 * per-server connectors per server. Looked up in this order: the app's row,
 * the connector's default row (appKey "*"), the connector file (`clientId` /
 * `clientSecret`, usually `${env:…}`). A per-server connector whose token
 * endpoint is on the typed server looks first for the rows registered for
 * that server, and uses the connector-wide ones only where the file lists
 * the server (template.ts sharesConnectorCredentials). Secrets in the
 * database are sealed with the keyring, bound to their row and column.
 */
import type { JWK } from "jose";
import { recordAudit } from "../audit.js";
import type { Keyring } from "../crypto/keyring.js";
import { generateId } from "../crypto/secrets.js";
import { sealedField } from "../crypto/sealed-fields.js";
import { Prisma, sqlRows, type Db, type SqlStatement } from "../db.js";
import { NotFound } from "../errors.js";
import { ConnectorNotConfigured, ServerNotRegistered } from "./errors.js";
import { CERTIFICATE_THUMBPRINT } from "./private-keys.js";
import { brokerCredentialNeeds, usesClientCredentials } from "./kinds/catalog.js";
import type { ConnectorConfig } from "./schema.js";
import { normalizeHostname, serverProblem } from "./host.js";
import { sendsClientCredentialsToServer, sharesConnectorCredentials } from "./template.js";

/** The key of the connector-wide default row. */
export const DEFAULT_APP_KEY = "*";

const SECRET_FIELD = sealedField("connectorCredential", "sealedClientSecret");
const PRIVATE_JWK_FIELD = sealedField("connectorCredential", "sealedPrivateJwk");

/** Where a connector's credentials were found: rows for one server are "app" or "default" too, with `hostname` set. */
export type CredentialSource = "app" | "default" | "file";

export interface UpstreamClientCredentials {
  clientId: string;
  clientSecret?: string;
  /** For `private_key_jwt` client authentication and `jwt_bearer` assertions. */
  privateJwk?: JWK;
  source: CredentialSource;
  /** Set when the credentials were registered for one server of a per-server connector. */
  hostname?: string;
}

type CredentialStore = { db: Db; keyring: Keyring };

/**
 * The rows that may serve an app at a connector (its own and the default,
 * connector-wide and for one server), straight through pg: every upstream
 * operation (each background refresh) asks, and Prisma's query layer costs
 * several times the query (db.ts sqlRows).
 */
const FIND_CREDENTIAL_ROWS: SqlStatement = {
  name: "connector-credential-rows",
  text: `SELECT "id", "appKey", "hostname", "clientId", "sealedClientSecret", "sealedPrivateJwk" FROM "ConnectorCredential" WHERE "connectorId" = $1 AND "appKey" IN ($2, $3) AND "hostname" IN ($4, '')`,
};

interface CredentialRow {
  id: string;
  appKey: string;
  hostname: string;
  clientId: string | null;
  sealedClientSecret: string | null;
  sealedPrivateJwk: string | null;
}

/** Whether the connector signs with a private key: jwt_bearer assertions, or private_key_jwt client authentication. */
export function usesPrivateKey(connector: ConnectorConfig): boolean {
  return brokerCredentialNeeds(connector)?.privateKey !== undefined;
}

/** What a connector needs, as its kind says: a client id (the assertion's `iss` for jwt_bearer), and a secret or a private key. */
function missingPieces(connector: ConnectorConfig, found: { clientId?: string; clientSecret?: string; privateJwk?: JWK }): string[] {
  const needs = brokerCredentialNeeds(connector);
  if (!needs) return [];
  const missing: string[] = [];
  if (!found.clientId) missing.push("client id");
  if (needs.privateKey && !found.privateJwk) missing.push("private key");
  else if (needs.privateKey?.certificate && found.privateJwk && !found.privateJwk[CERTIFICATE_THUMBPRINT as keyof JWK]) missing.push("certificate");
  if (needs.clientSecret && !found.clientSecret) missing.push("client secret");
  return missing;
}

/** How the operator fixes a connector without credentials. */
function howToConfigure(connector: ConnectorConfig, appId: string | undefined, missing: string[], hostname?: string): string {
  const app = `${hostname ? ` --hostname ${hostname}` : ""}${appId ? ` [--app ${appId}]` : ""}`;
  const commands: string[] = [];
  if (missing.includes("certificate") || (missing.includes("private key") && brokerCredentialNeeds(connector)?.privateKey?.certificate)) {
    // The upstream registered a certificate: keygen makes no certificate, so the key comes from the operator's files.
    commands.push(`\`authbroker credentials set ${connector.id}${app} --private-key-file key.pem --certificate-file cert.pem\``);
  } else if (missing.includes("private key")) commands.push(`\`authbroker credentials keygen ${connector.id}${app}\``);
  if (missing.includes("client id") || missing.includes("client secret") || commands.length === 0) {
    commands.push(
      `\`authbroker credentials set ${connector.id}${app} --client-id …${missing.includes("client secret") || !usesPrivateKey(connector) ? " --client-secret-stdin" : ""}\``,
    );
  }
  const viaEnv = connector.source.missingEnv.length > 0 ? `set ${connector.source.missingEnv.join(" and ")}, or ` : "";
  return `${viaEnv}run ${commands.join(" and ")}`;
}

/** Credentials found so far, in the order they are looked for. */
type Found = Omit<UpstreamClientCredentials, "clientId" | "source"> & { clientId?: string; source?: CredentialSource };

/** Picks the client id (with its secret) and the private key from the first rows that have them. */
function fromRows(store: CredentialStore, ordered: (CredentialRow | undefined)[], sources: CredentialSource[]): Found {
  let found: Found = {};
  const withClient = ordered.findIndex((row) => row?.clientId);
  if (withClient !== -1) {
    const row = ordered[withClient]!;
    found = {
      clientId: row.clientId!,
      clientSecret: row.sealedClientSecret ? store.keyring.open(row.sealedClientSecret, { rowId: row.id, field: SECRET_FIELD }) : undefined,
      source: sources[withClient],
      ...(row.hostname ? { hostname: row.hostname } : {}),
    };
  }
  const keyIndex = ordered.findIndex((row) => row?.sealedPrivateJwk);
  if (keyIndex !== -1) {
    const row = ordered[keyIndex]!;
    found.privateJwk = store.keyring.openJson<JWK>(row.sealedPrivateJwk!, { rowId: row.id, field: PRIVATE_JWK_FIELD });
    found.source ??= sources[keyIndex];
    if (row.hostname) found.hostname ??= row.hostname;
  }
  return found;
}

/**
 * The upstream client credentials of a connector for an app (and, for a
 * per-server connector, the server it talks to). Throws
 * ConnectorNotConfigured when none are stored anywhere (the message says how
 * to fix it), ServerNotRegistered when a per-server connector has none the
 * broker may send to that server, TypeError for a kind that uses none
 * (basic, api_key).
 */
export async function resolveConnectorCredentials(
  store: CredentialStore,
  connector: ConnectorConfig,
  appId: string,
  hostname?: string,
): Promise<UpstreamClientCredentials> {
  if (!usesClientCredentials(connector)) throw new TypeError(`connector "${connector.id}" (${connector.auth.kind}) has no client credentials of its own`);
  const perServer = sendsClientCredentialsToServer(connector);
  if (perServer && hostname === undefined)
    throw new TypeError(`connector "${connector.id}" sends its credentials to the end user's server: a hostname is required`);
  const rows = await sqlRows<CredentialRow>(store.db, FIND_CREDENTIAL_ROWS, [connector.id, appId, DEFAULT_APP_KEY, perServer ? hostname! : ""]);
  const row = (appKey: string, host: string) => rows.find((r) => r.appKey === appKey && r.hostname === host);

  let found: Found = {};
  if (perServer) found = fromRows(store, [row(appId, hostname!), row(DEFAULT_APP_KEY, hostname!)], ["app", "default"]);
  if (!found.source && (!perServer || sharesConnectorCredentials(connector, hostname!))) {
    found = fromRows(store, [row(appId, ""), row(DEFAULT_APP_KEY, "")], ["app", "default"]);
    if (!found.clientId && "clientId" in connector.auth && connector.auth.clientId) {
      found = { ...found, clientId: connector.auth.clientId, clientSecret: connector.auth.clientSecret, source: found.source ?? "file" };
    }
  }
  if (perServer && !found.source) throw new ServerNotRegistered(connector, hostname!);

  const missing = missingPieces(connector, found);
  if (missing.length > 0 || !found.source) {
    throw new ConnectorNotConfigured(
      connector.id,
      `connector "${connector.id}" has no upstream ${missing.join(" or ") || "credentials"} for app "${appId}"${found.hostname ? ` on ${found.hostname}` : ""}: ${howToConfigure(connector, appId, missing, found.hostname)}`,
    );
  }
  return { ...found, clientId: found.clientId ?? "", source: found.source };
}

/**
 * The name of a server a per-server connector's credentials are registered
 * for, as the connect pages store hostnames (lower case, no scheme, no final
 * dot). TypeError when the connector has no such servers: its credentials
 * never go to a server the end user names.
 */
export function checkedServerName(connector: ConnectorConfig, typed: string): string {
  if (!sendsClientCredentialsToServer(connector))
    throw new TypeError(`connector "${connector.id}" does not send its credentials to the end user's server; its credentials are connector-wide`);
  const hostname = normalizeHostname(typed);
  const problem = hostname.length > 253 ? "it is too long" : serverProblem(hostname, connector.hostname?.pathPrefix ?? false);
  if (problem !== undefined) throw new TypeError(`"${typed}" is not a server address of ${connector.id}: ${problem}`);
  return hostname;
}

/** Whether this server of a per-server connector has credentials of its own for the app (its own, or the default). */
export async function isRegisteredServer(db: Pick<Db, "connectorCredential">, connectorId: string, hostname: string, appId: string): Promise<boolean> {
  return (await db.connectorCredential.count({ where: { connectorId, hostname, appKey: { in: [appId, DEFAULT_APP_KEY] } } })) > 0;
}

export interface SetConnectorCredentialsInput {
  connectorId: string;
  /** The app these are for; absent for the connector-wide default. */
  appId?: string;
  /** Per-server connectors: the one server these were registered on; absent for the connector-wide ones. */
  hostname?: string;
  clientId: string;
  /** Absent clears a stored secret (private_key_jwt connectors need none). */
  clientSecret?: string;
}

export interface StoredConnectorCredentials {
  id: string;
  connectorId: string;
  appKey: string;
  hostname: string;
  created: boolean;
}

/**
 * Stores (creates or replaces) the upstream client id and secret of a
 * connector for an app or as the default. The secret is sealed under the
 * current key with the row id as associated data; a stored private key is
 * kept.
 */
export async function setConnectorCredentials(
  services: { db: Db; keyring: Keyring },
  input: SetConnectorCredentialsInput,
): Promise<StoredConnectorCredentials> {
  if (!input.clientId) throw new TypeError("clientId must not be empty");
  if (input.clientSecret === "") throw new TypeError("clientSecret must not be empty");
  return writeCredentialRow(
    services.db,
    input,
    (id) => ({
      clientId: input.clientId,
      sealedClientSecret: input.clientSecret === undefined ? null : services.keyring.seal(input.clientSecret, { rowId: id, field: SECRET_FIELD }),
    }),
    { action: "connector_credentials.set" },
  );
}

export interface SetConnectorPrivateKeyInput {
  connectorId: string;
  /** The app this key is for; absent for the connector-wide default. */
  appId?: string;
  /** Per-server connectors: the one server this key is registered on; absent for the connector-wide one. */
  hostname?: string;
  /** The private key, with `alg` and `kid` (what assertions and private_key_jwt are signed with). */
  privateJwk: JWK;
  /** The public half, kept in clear so it can be shown again to the upstream's admin. */
  publicJwk: JWK;
  /** Stored too when given (a Google service account file names its client_email); otherwise a stored client id is kept. */
  clientId?: string;
}

/**
 * Stores (creates or replaces) the private key of a connector for an app or
 * as the default, sealed under the current key with the row id as
 * associated data. A stored client id and secret are kept.
 */
export async function setConnectorPrivateKey(services: { db: Db; keyring: Keyring }, input: SetConnectorPrivateKeyInput): Promise<StoredConnectorCredentials> {
  if (!input.privateJwk.alg || !input.privateJwk.kid) throw new TypeError("the private JWK needs alg and kid");
  if (input.publicJwk.d !== undefined || input.publicJwk.p !== undefined) throw new TypeError("publicJwk must not hold private parts");
  return writeCredentialRow(
    services.db,
    input,
    (id) => ({
      sealedPrivateJwk: services.keyring.sealJson(input.privateJwk, { rowId: id, field: PRIVATE_JWK_FIELD }),
      publicJwk: input.publicJwk as object,
      ...(input.clientId !== undefined ? { clientId: input.clientId } : {}),
    }),
    { action: "connector_credentials.key_set", detail: { kid: input.privateJwk.kid!, alg: input.privateJwk.alg! } },
  );
}

/** The columns a write sets; the row id is known before, so sealed values can be bound to it. */
type CredentialColumns = Omit<Prisma.ConnectorCredentialUncheckedCreateInput, "id" | "connectorId" | "appKey" | "appId" | "hostname">;

/**
 * Creates or updates the credential row of a connector for an app (or the
 * default) in one transaction, setting `columns` and keeping the others,
 * and audits the write. An unknown app is NotFound.
 */
async function writeCredentialRow(
  db: Db,
  target: { connectorId: string; appId?: string; hostname?: string },
  columns: (rowId: string) => CredentialColumns,
  audit: { action: string; detail?: Record<string, string> },
): Promise<StoredConnectorCredentials> {
  const { connectorId, appId } = target;
  const appKey = appId ?? DEFAULT_APP_KEY;
  const hostname = target.hostname ?? "";
  const key = { connectorId_appKey_hostname: { connectorId, appKey, hostname } };
  return db.$transaction(async (tx) => {
    if (appId !== undefined && !(await tx.app.findUnique({ where: { id: appId }, select: { id: true } }))) throw new NotFound(`app "${appId}" not found`);
    const existing = await tx.connectorCredential.findUnique({ where: key, select: { id: true } });
    const id = existing?.id ?? generateId("ccr", 12);
    const data = columns(id);
    await tx.connectorCredential.upsert({ where: key, create: { id, connectorId, appKey, hostname, appId: appId ?? null, ...data }, update: data });
    await recordAudit(tx, {
      action: audit.action,
      actorType: "operator",
      appId,
      connectorId,
      detail: { appKey, ...(hostname ? { hostname } : {}), created: !existing, ...audit.detail },
    });
    return { id, connectorId, appKey, hostname, created: !existing };
  });
}

/** Which credential rows a connector has: connector-wide ones (by app key) and the servers registered for it. */
export interface StoredCredentialRows {
  /** App keys of the connector-wide rows (an app id, or "*" for the default). */
  appKeys: string[];
  /** Per-server connectors: the servers with rows of their own. */
  servers: string[];
}

/** Connector ids that have credentials stored in the database (any app, or the default; connector-wide or per server). */
export async function connectorsWithStoredCredentials(db: Pick<Db, "connectorCredential">): Promise<Map<string, StoredCredentialRows>> {
  const rows = await db.connectorCredential.findMany({ select: { connectorId: true, appKey: true, hostname: true } });
  const byConnector = new Map<string, StoredCredentialRows>();
  for (const row of rows) {
    const entry = byConnector.get(row.connectorId) ?? { appKeys: [], servers: [] };
    if (row.hostname === "") entry.appKeys.push(row.appKey);
    else if (!entry.servers.includes(row.hostname)) entry.servers.push(row.hostname);
    byConnector.set(row.connectorId, entry);
  }
  return byConnector;
}
