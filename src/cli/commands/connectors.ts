/**
 * `authbroker connectors list` and `authbroker connectors validate [file]`.
 * Both read connector files only: they work before `authbroker init` (no
 * BROKER_ENCRYPTION_KEYS) and without a database. `list` also shows which
 * connectors have credentials stored in the database when it can reach it.
 */
import type { Command } from "commander";
import { loadConfig } from "../../config.js";
import type { StoredCredentialRows } from "../../connectors/credentials.js";
import type { ConnectorConfigError } from "../../connectors/errors.js";
import type { ConnectorConfig } from "../../connectors/schema.js";
import { CliError, EXIT, printResult, table } from "../output.js";
import { registerCredentials } from "./credentials.js";

/**
 * A keyring entry that only lets the configuration parse: these verbs seal
 * and open nothing, so they must not demand the real keys.
 */
const NO_KEYS = `connectors:${Buffer.alloc(32).toString("base64")}`;

/** CONNECTORS_DIR as the configuration declares it (default, check), whatever else is or is not set. */
export function configuredConnectorsDir(env: NodeJS.ProcessEnv = process.env): string {
  return loadConfig({ CONNECTORS_DIR: env.CONNECTORS_DIR, BROKER_ENCRYPTION_KEYS: NO_KEYS }).connectorsDir;
}

/** Stored credentials by connector, or why the database was not checked. */
async function storedCredentials(): Promise<{ byConnector?: Map<string, StoredCredentialRows>; unchecked?: string }> {
  let databaseUrl: string;
  try {
    // Only which rows exist is read, nothing is opened: no keys needed.
    databaseUrl = loadConfig({ DATABASE_URL: process.env.DATABASE_URL, BROKER_ENCRYPTION_KEYS: NO_KEYS }).databaseUrl;
  } catch (err) {
    return { unchecked: (err as Error).message };
  }
  const { checkPostgres } = await import("../../preflight.js");
  const { createDb } = await import("../../db.js");
  const { connectorsWithStoredCredentials } = await import("../../connectors/credentials.js");
  try {
    await checkPostgres(databaseUrl, { requireSchema: true });
  } catch (err) {
    return { unchecked: (err as Error).message };
  }
  const db = createDb(databaseUrl, { max: 1 });
  try {
    return { byConnector: await connectorsWithStoredCredentials(db) };
  } finally {
    await db.$disconnect();
  }
}

function problemLines(errors: ConnectorConfigError[]) {
  return errors.map((e) => ({ file: e.file, field: e.field, problem: e.problem, message: e.message }));
}

/** Registers `connectors …` and `credentials …` (the broker's own credentials at connectors). */
export function registerConnectors(program: Command): void {
  registerCredentials(program);
  const connectors = program.command("connectors").description("connector files (CONNECTORS_DIR)");

  connectors
    .command("list")
    .description("list the connectors: id, name, auth kind, per-server or not, and whether their upstream credentials are configured")
    .option("--json", "print the result as JSON")
    .action(async (options: { json?: boolean }) => {
      const { checkConnectorDir, displayPath } = await import("../../connectors/loader.js");
      const { loadBuiltInKinds } = await import("../../connectors/kinds/index.js");
      const { isPerServer } = await import("../../connectors/template.js");
      const { credentialStatus } = await import("../../connectors/status.js");
      const dir = configuredConnectorsDir();
      const { connectors: loaded, errors } = await checkConnectorDir(dir, process.env);
      const stored = await storedCredentials();
      const kinds = await loadBuiltInKinds();
      const rows = loaded.map((connector) => ({
        id: connector.id,
        name: connector.name,
        kind: connector.auth.kind,
        implemented: kinds.has(connector.auth.kind),
        perServer: isPerServer(connector),
        file: connector.source.file,
        ...credentialStatus(connector, stored.byConnector?.get(connector.id)),
      }));
      for (const error of errors) process.stderr.write(`authbroker: ${error.message}\n`);
      if (stored.unchecked && !options.json) process.stderr.write(`authbroker: credentials stored in the database not shown (${stored.unchecked})\n`);
      printResult(options, { dir: displayPath(dir), connectors: rows, databaseChecked: stored.byConnector !== undefined, errors: problemLines(errors) }, () =>
        table(
          rows.map((r) => ({
            ...r,
            kind: r.implemented ? r.kind : `${r.kind} (not implemented yet)`,
            perServer: r.perServer ? "yes" : "no",
            configured: r.configured === true ? "yes" : r.configured === false ? "no" : r.configured,
          })),
          ["id", "name", "kind", "perServer", "configured", "credentials"],
        ),
      );
      if (errors.length > 0)
        throw new CliError(
          `${errors.length} ${errors.length === 1 ? "problem" : "problems"} in connector files: run \`authbroker connectors validate\``,
          EXIT.usage,
        );
    });

  connectors
    .command("validate")
    .argument("[file]", "one connector file; default: every *.yaml, *.yml and *.json of CONNECTORS_DIR")
    .description("check connector files against the schema; exit 2 with one line per problem (file: field: problem)")
    .option("--json", "print the result as JSON")
    .action(async (file: string | undefined, options: { json?: boolean }) => {
      const { checkConnectorDir, checkConnectorFile } = await import("../../connectors/loader.js");
      const checked = file
        ? await checkConnectorFile(file, process.env).then((c) => ({ connectors: c.connector ? [c.connector] : [], errors: c.errors }))
        : await checkConnectorDir(configuredConnectorsDir(), process.env);
      const valid = checked.errors.length === 0;
      const summary = checked.connectors.map((c) => ({ id: c.id, file: c.source.file, kind: c.auth.kind, needsCredentials: c.source.missingEnv }));
      printResult(options, { valid, connectors: summary, errors: problemLines(checked.errors) }, () =>
        valid
          ? [
              `${summary.length} connector ${summary.length === 1 ? "file" : "files"} valid${summary.length ? `: ${summary.map((c) => c.id).join(", ")}` : ""}`,
              ...summary
                .filter((c) => c.needsCredentials.length)
                .map((c) => `note: ${c.id}: ${c.needsCredentials.join(", ")} not set (store credentials with \`authbroker credentials set ${c.id}\` instead)`),
            ].join("\n")
          : checked.errors.map((e) => e.message).join("\n"),
      );
      if (!valid) throw new CliError(`${checked.errors.length} ${checked.errors.length === 1 ? "problem" : "problems"} in connector files`, EXIT.usage);
    });

  connectors
    .command("reload")
    .description(
      "ask every running serve and worker process (through Redis) to reload CONNECTORS_DIR: each file is checked before it replaces its previous version; an invalid one keeps its previous version serving (what SIGHUP does for one process)",
    )
    .option("--json", "print the result as JSON")
    .action(async (options: { json?: boolean }) => {
      const { checkConnectorDir } = await import("../../connectors/loader.js");
      const { createRedis, whenReady } = await import("../../redis.js");
      const { requestConnectorReload } = await import("../../connectors/live.js");
      // The same check the processes make, so the operator sees at once which files they will reject.
      const { connectors: valid, errors } = await checkConnectorDir(configuredConnectorsDir(), process.env);
      for (const error of errors) process.stderr.write(`authbroker: ${error.message} (the running version of this file keeps serving)\n`);
      let redisUrl: string;
      try {
        redisUrl = loadConfig({ REDIS_URL: process.env.REDIS_URL, BROKER_ENCRYPTION_KEYS: NO_KEYS }).redisUrl;
      } catch (err) {
        throw new CliError((err as Error).message, EXIT.usage);
      }
      const redis = createRedis(redisUrl);
      redis.on("error", () => undefined);
      let notified: number;
      try {
        await whenReady(redis, 5_000);
        notified = await requestConnectorReload(redis, "authbroker connectors reload");
      } catch (err) {
        throw new CliError(`cannot reach Redis to ask the broker processes (${(err as Error).message})`, EXIT.failed);
      } finally {
        redis.disconnect();
      }
      printResult(options, { notified, valid: valid.map((c) => c.id), errors: problemLines(errors) }, () =>
        notified === 0
          ? "no broker process is listening (none running on this Redis); nothing reloaded"
          : `${notified} broker process(es) asked to reload; ${valid.length} connector file(s) valid${errors.length ? `, ${errors.length} problem(s) (previous versions keep serving)` : ""}`,
      );
      if (errors.length > 0) process.exitCode = EXIT.usage;
      else if (notified === 0) process.exitCode = EXIT.failed;
    });
}
