/**
 * The broker's own credentials at a connector's upstream, sealed in the
 * database, for one app (`--app`) or as the default for every app, and for
 * per-server connectors connector-wide or for one server (`--hostname`):
 *
 * - `authbroker credentials set <connector>`: the client id and secret
 *   (the secret best on stdin with `--client-secret-stdin`, which keeps it
 *   out of shell history and `ps`), and/or a private key from a file
 *   (`--private-key-file`: PEM, a private JWK, or a Google service-account
 *   JSON key, whose client_email becomes the client id).
 * - `authbroker credentials keygen <connector>`: a new key pair for a
 *   jwt_bearer or private_key_jwt connector; the private key is sealed and
 *   never shown, the public key is printed (PEM and JWK) for the upstream's
 *   admin to register.
 */
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import type { ImportedKey } from "../../connectors/private-keys.js";
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from "../../connectors/schema-fields.js";
import type { ConnectorConfig } from "../../connectors/schema.js";
import type { Services } from "../../services.js";
import { CliError, EXIT, printResult } from "../output.js";

interface SetOptions {
  app?: string;
  hostname?: string;
  clientId?: string;
  clientSecret?: string;
  clientSecretStdin?: boolean;
  privateKeyFile?: string;
  certificateFile?: string;
  keyId?: string;
  json?: boolean;
}

interface KeygenOptions {
  app?: string;
  hostname?: string;
  alg?: string;
  kid?: string;
  json?: boolean;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One trailing newline is how `echo` and editors end a line, not part of the secret.
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

/** Whether the connector's token requests carry a client secret. */
function needsSecret(connector: ConnectorConfig): boolean {
  const auth = connector.auth;
  if (!("tokenAuthMethod" in auth)) return false;
  return auth.tokenAuthMethod === "client_secret_basic" || auth.tokenAuthMethod === "client_secret_post";
}

async function clientSecretFrom(options: SetOptions, connector: ConnectorConfig, clientIdGiven: boolean): Promise<string | undefined> {
  if (options.clientSecret !== undefined && options.clientSecretStdin)
    throw new CliError("give the client secret once: --client-secret or --client-secret-stdin", EXIT.usage);
  const secret = options.clientSecretStdin ? await readStdin() : options.clientSecret;
  if (secret === "") throw new CliError("the client secret is empty", EXIT.usage);
  if (secret !== undefined && !clientIdGiven) throw new CliError("a client secret goes with its client id: add --client-id", EXIT.usage);
  if (secret === undefined && clientIdGiven && needsSecret(connector))
    throw new CliError(`connector "${connector.id}" needs a client secret: --client-secret-stdin (or --client-secret)`, EXIT.usage);
  return secret;
}

/** The connector named on the command line, from CONNECTORS_DIR; a broken file is reported as itself. */
async function findConnector(services: Services, connectorId: string): Promise<ConnectorConfig> {
  const { checkConnectorDir } = await import("../../connectors/loader.js");
  const { connectors, errors } = await checkConnectorDir(services.config.connectorsDir, process.env);
  const connector = connectors.find((c) => c.id === connectorId);
  if (connector) return connector;
  const broken = errors.find((e) => e.field === "" || e.message.includes(connectorId));
  if (broken) throw broken;
  throw new CliError(`unknown connector "${connectorId}"; known: ${connectors.map((c) => c.id).join(", ") || "(none)"}`, EXIT.notFound);
}

function algorithmOption(value: string | undefined): SigningAlgorithm | undefined {
  if (value === undefined) return undefined;
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(value)) throw new CliError(`--alg must be one of ${SIGNING_ALGORITHMS.join(", ")}`, EXIT.usage);
  return value as SigningAlgorithm;
}

/** The algorithm the connector's file asks its key to be made for (jwt_bearer `auth.algorithm`), if any. */
async function connectorAlgorithm(connector: ConnectorConfig): Promise<SigningAlgorithm | undefined> {
  const { brokerCredentialNeeds } = await import("../../connectors/kinds/catalog.js");
  return brokerCredentialNeeds(connector)?.privateKey?.algorithm;
}

async function readTextFile(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw new CliError(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, EXIT.usage);
  }
}

async function keyFromFile(path: string, options: { alg?: SigningAlgorithm; kid?: string; certificateFile?: string }): Promise<ImportedKey> {
  const { importConnectorKey, KeyFileError } = await import("../../connectors/private-keys.js");
  const text = await readTextFile(path);
  const certificatePem = options.certificateFile === undefined ? undefined : await readTextFile(options.certificateFile);
  try {
    return await importConnectorKey(text, { alg: options.alg, kid: options.kid, certificatePem });
  } catch (err) {
    if (err instanceof KeyFileError)
      throw new CliError(`${options.certificateFile && err.message.includes("certificate") ? options.certificateFile : path}: ${err.message}`, EXIT.usage);
    throw err;
  }
}

function whose(app: string | undefined, hostname: string | undefined): string {
  return `${app ? `for app ${app}` : "as the default for every app"}${hostname ? ` on ${hostname}` : ""}`;
}

/** The server `--hostname` names, as the connect pages store it; a usage error for a connector whose credentials never go to a typed server. */
async function serverOption(connector: ConnectorConfig, hostname: string | undefined): Promise<string | undefined> {
  if (hostname === undefined) return undefined;
  const { checkedServerName } = await import("../../connectors/credentials.js");
  try {
    return checkedServerName(connector, hostname);
  } catch (err) {
    if (err instanceof TypeError) throw new CliError(`--hostname: ${err.message}`, EXIT.usage);
    throw err;
  }
}

export function registerCredentials(program: Command): void {
  const credentials = program.command("credentials").description("the broker's own credentials at upstream services");

  credentials
    .command("set")
    .argument("<connector>", "connector id")
    .description("store the broker's upstream client id and secret, and/or private key, for a connector (sealed), for one app or as the default")
    .option("--app <id>", "only for this app (default: every app without its own)")
    .option("--hostname <host>", "per-server connectors: only for this server (host[:port]), as its administrator registered the broker")
    .option("--client-id <id>", "the client id the upstream issued to the broker (jwt_bearer: the assertion's iss)")
    .option("--client-secret <secret>", "the client secret (visible in shell history: prefer --client-secret-stdin)")
    .option("--client-secret-stdin", "read the client secret from stdin")
    .option("--private-key-file <file>", "a private key for jwt_bearer or private_key_jwt: PEM, a private JWK, or a Google service-account JSON key")
    .option("--certificate-file <file>", "the X.509 certificate (PEM) the upstream registered for the key (Microsoft Entra); a PEM key file may hold it too")
    .option("--key-id <kid>", "the key id the upstream knows the key by (Box: the public key ID it shows); default: the file's, or the RFC 7638 thumbprint")
    .option("--json", "print the result as JSON")
    .action(async (connectorId: string, options: SetOptions) => {
      const { setConnectorCredentials, setConnectorPrivateKey, usesPrivateKey } = await import("../../connectors/credentials.js");
      const { brokerCredentialNeeds, usesClientCredentials } = await import("../../connectors/kinds/catalog.js");
      const { withServices } = await import("../context.js");
      await withServices(async (services) => {
        const connector = await findConnector(services, connectorId);
        if (!usesClientCredentials(connector))
          throw new CliError(`connector "${connector.id}" (${connector.auth.kind}) has no client credentials: its end users enter their own`, EXIT.usage);
        if (options.privateKeyFile !== undefined && !usesPrivateKey(connector))
          throw new CliError(`connector "${connector.id}" signs nothing: a private key is for jwt_bearer or private_key_jwt connectors`, EXIT.usage);
        if (options.certificateFile !== undefined && options.privateKeyFile === undefined)
          throw new CliError("a certificate goes with its private key: add --private-key-file", EXIT.usage);
        const hostname = await serverOption(connector, options.hostname);
        const key =
          options.privateKeyFile === undefined
            ? undefined
            : await keyFromFile(options.privateKeyFile, {
                alg: await connectorAlgorithm(connector),
                kid: options.keyId,
                certificateFile: options.certificateFile,
              });
        const { CERTIFICATE_THUMBPRINT } = await import("../../connectors/private-keys.js");
        if (key && brokerCredentialNeeds(connector)?.privateKey?.certificate && !key.privateJwk[CERTIFICATE_THUMBPRINT as keyof typeof key.privateJwk])
          throw new CliError(
            `connector "${connector.id}" names its key by certificate: add --certificate-file (or a PEM file with the key and its certificate)`,
            EXIT.usage,
          );
        const clientId = options.clientId ?? key?.clientId;
        if (clientId === undefined && key === undefined) throw new CliError("give --client-id (with its secret), --private-key-file, or both", EXIT.usage);
        const clientSecret = await clientSecretFrom(options, connector, options.clientId !== undefined);
        // The client id and secret first: storing them clears a secret the connector no longer uses; the key is kept.
        const stored =
          options.clientId !== undefined
            ? await setConnectorCredentials(services, { connectorId: connector.id, appId: options.app, hostname, clientId: options.clientId, clientSecret })
            : undefined;
        const keyStored = key
          ? await setConnectorPrivateKey(services, {
              connectorId: connector.id,
              appId: options.app,
              hostname,
              privateJwk: key.privateJwk,
              publicJwk: key.publicJwk,
              clientId,
            })
          : undefined;
        const created = (stored ?? keyStored)!.created;
        printResult(
          options,
          {
            connector: connector.id,
            app: options.app ?? null,
            appKey: (stored ?? keyStored)!.appKey,
            hostname: hostname ?? null,
            clientId: clientId ?? null,
            clientSecretStored: clientSecret !== undefined,
            ...(key ? { privateKeyStored: true, alg: key.alg, kid: key.kid, publicJwk: key.publicJwk } : {}),
            ...(key?.publicJwk[CERTIFICATE_THUMBPRINT as keyof typeof key.publicJwk]
              ? { certificateThumbprint: key.publicJwk[CERTIFICATE_THUMBPRINT as keyof typeof key.publicJwk] }
              : {}),
            created,
          },
          () =>
            `${created ? "stored" : "replaced"} the ${[clientId !== undefined ? "client credentials" : undefined, key ? `private key (${key.alg}, kid ${key.kid})` : undefined].filter(Boolean).join(" and ")} of "${connector.id}" ${whose(options.app, hostname)}${clientId !== undefined && clientSecret === undefined ? " (no secret)" : ""}`,
        );
      });
    });

  credentials
    .command("keygen")
    .argument("<connector>", "connector id (jwt_bearer, or private_key_jwt client authentication)")
    .description(
      "make a key pair for a connector: the private key is sealed in the database and never shown; the public key is printed (PEM and JWK) for the upstream's admin",
    )
    .option("--app <id>", "only for this app (default: every app without its own)")
    .option("--hostname <host>", "per-server connectors: only for this server (host[:port])")
    .option("--alg <alg>", `${SIGNING_ALGORITHMS.join(" or ")} (default: the connector's auth.algorithm, else RS256)`)
    .option("--kid <kid>", "the key id to put in assertion headers (default: the RFC 7638 thumbprint; Box wants the ID it shows for the uploaded key)")
    .option("--json", "print the result as JSON")
    .action(async (connectorId: string, options: KeygenOptions) => {
      const { setConnectorPrivateKey, usesPrivateKey } = await import("../../connectors/credentials.js");
      const { generateConnectorKey } = await import("../../connectors/private-keys.js");
      const { brokerCredentialNeeds } = await import("../../connectors/kinds/catalog.js");
      const { withServices } = await import("../context.js");
      await withServices(async (services) => {
        const connector = await findConnector(services, connectorId);
        if (!usesPrivateKey(connector))
          throw new CliError(
            `connector "${connector.id}" (${connector.auth.kind}) signs nothing: keygen is for jwt_bearer connectors and private_key_jwt client authentication`,
            EXIT.usage,
          );
        if (brokerCredentialNeeds(connector)?.privateKey?.certificate)
          throw new CliError(
            `connector "${connector.id}" names its key by the certificate the upstream registered, and keygen makes no certificate: make both (openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 365 -subj /CN=authbroker), upload cert.pem to the upstream, then run \`authbroker credentials set ${connector.id} --private-key-file key.pem --certificate-file cert.pem\``,
            EXIT.usage,
          );
        const hostname = await serverOption(connector, options.hostname);
        const alg = algorithmOption(options.alg) ?? (await connectorAlgorithm(connector)) ?? "RS256";
        const key = await generateConnectorKey(alg, options.kid);
        const stored = await setConnectorPrivateKey(services, {
          connectorId: connector.id,
          appId: options.app,
          hostname,
          privateJwk: key.privateJwk,
          publicJwk: key.publicJwk,
        });
        printResult(
          options,
          {
            connector: connector.id,
            app: options.app ?? null,
            appKey: stored.appKey,
            hostname: hostname ?? null,
            alg: key.alg,
            kid: key.kid,
            created: stored.created,
            publicKeyPem: key.publicKeyPem,
            publicJwk: key.publicJwk,
          },
          () =>
            [
              `${stored.created ? "stored a new" : "replaced the"} ${key.alg} private key of "${connector.id}" ${whose(options.app, hostname)} (kid ${key.kid}).${stored.created ? "" : " The previous key no longer signs."}`,
              `Register this public key with the upstream:`,
              "",
              key.publicKeyPem.trimEnd(),
              "",
              JSON.stringify(key.publicJwk, null, 2),
            ].join("\n"),
        );
      });
    });
}
