/**
 * `authbroker credentials set <connector>`: store the broker's client id and
 * secret at a connector's upstream, for one app or as the default, sealed
 * under the current key. The secret is best given on stdin
 * (`--client-secret-stdin`), which keeps it out of shell history and `ps`.
 */
import type { Command } from "commander";
import { setConnectorCredentials, usesClientCredentials } from "../../connectors/credentials.js";
import { checkConnectorDir } from "../../connectors/loader.js";
import type { ConnectorConfig } from "../../connectors/schema.js";
import { withServices } from "../context.js";
import { CliError, EXIT, printResult } from "../output.js";

interface SetOptions {
  app?: string;
  clientId: string;
  clientSecret?: string;
  clientSecretStdin?: boolean;
  json?: boolean;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One trailing newline is how `echo` and editors end a line, not part of the secret.
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

/** Whether the connector authenticates at its upstream with a private key rather than a secret. */
function needsNoSecret(connector: ConnectorConfig): boolean {
  const auth = connector.auth;
  return auth.kind === "jwt_bearer" || ("tokenAuthMethod" in auth && auth.tokenAuthMethod === "private_key_jwt");
}

async function clientSecretFrom(options: SetOptions, connector: ConnectorConfig): Promise<string | undefined> {
  if (options.clientSecret !== undefined && options.clientSecretStdin) throw new CliError("give the client secret once: --client-secret or --client-secret-stdin", EXIT.usage);
  const secret = options.clientSecretStdin ? await readStdin() : options.clientSecret;
  if (secret === undefined && !needsNoSecret(connector)) throw new CliError(`connector "${connector.id}" needs a client secret: --client-secret-stdin (or --client-secret)`, EXIT.usage);
  if (secret === "") throw new CliError("the client secret is empty", EXIT.usage);
  return secret;
}

export function registerCredentials(program: Command): void {
  const credentials = program.command("credentials").description("the broker's own credentials at upstream services");

  credentials
    .command("set")
    .argument("<connector>", "connector id")
    .description("store the broker's upstream client id and secret for a connector (sealed), for one app or as the default")
    .option("--app <id>", "only for this app (default: every app without its own)")
    .requiredOption("--client-id <id>", "the client id the upstream issued to the broker")
    .option("--client-secret <secret>", "the client secret (visible in shell history: prefer --client-secret-stdin)")
    .option("--client-secret-stdin", "read the client secret from stdin")
    .option("--json", "print the result as JSON")
    .action(async (connectorId: string, options: SetOptions) => {
      await withServices(async (services) => {
        const { connectors, errors } = await checkConnectorDir(services.config.connectorsDir, process.env);
        const connector = connectors.find((c) => c.id === connectorId);
        if (!connector) {
          const broken = errors.find((e) => e.field === "" || e.message.includes(connectorId));
          if (broken) throw broken;
          throw new CliError(`unknown connector "${connectorId}"; known: ${connectors.map((c) => c.id).join(", ") || "(none)"}`, EXIT.notFound);
        }
        if (!usesClientCredentials(connector)) throw new CliError(`connector "${connector.id}" (${connector.auth.kind}) has no client credentials: its end users enter their own`, EXIT.usage);
        const clientSecret = await clientSecretFrom(options, connector);
        const stored = await setConnectorCredentials(services, { connectorId: connector.id, appId: options.app, clientId: options.clientId, clientSecret });
        printResult(
          options,
          { connector: connector.id, app: options.app ?? null, appKey: stored.appKey, clientId: options.clientId, clientSecretStored: clientSecret !== undefined, created: stored.created },
          () => `${stored.created ? "stored" : "replaced"} the client credentials of "${connector.id}" ${options.app ? `for app ${options.app}` : "as the default for every app"}${clientSecret === undefined ? " (no secret)" : ""}`,
        );
      });
    });
}
