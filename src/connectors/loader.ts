/**
 * Reading connector files: `*.yaml`, `*.yml` and `*.json` of one directory,
 * each parsed, its `${env:…}` references resolved, validated by the schema,
 * and ids checked unique across files. `checkConnector*` collect every
 * problem (for `authbroker connectors validate`); `loadConnectors` and
 * `parseConnectorText` throw the first (for start-up).
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { isAbsolute, join, relative } from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { ConnectorConfigError } from "./errors.js";
import { resolveReferences } from "./references.js";
import { ConnectorRegistry } from "./registry.js";
import { connectorFileSchema, type ConnectorConfig } from "./schema.js";

const CONNECTOR_FILE = /\.(ya?ml|json)$/i;

export interface ConnectorCheck {
  /** The connector, when the file is valid. */
  connector?: ConnectorConfig;
  errors: ConnectorConfigError[];
}

export interface ConnectorDirCheck {
  connectors: ConnectorConfig[];
  errors: ConnectorConfigError[];
}

/** A file name as the operator would type it: relative to the working directory when inside it. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

function parseText(file: string, text: string): { document?: unknown; error?: ConnectorConfigError } {
  if (/\.json$/i.test(file)) {
    try {
      return { document: JSON.parse(text) };
    } catch (err) {
      return { error: new ConnectorConfigError(file, "", `invalid JSON: ${(err as Error).message}`) };
    }
  }
  // YAML 1.2 core schema (no `yes`/`on` booleans); duplicate keys are errors, so a repeated field cannot silently win.
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, logLevel: "silent" });
  const first = doc.errors[0] ?? doc.warnings[0];
  if (first) {
    const line = first.linePos?.[0]?.line;
    const what = first.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    return { error: new ConnectorConfigError(file, line === undefined ? "" : `line ${line}`, `YAML syntax error: ${what}`) };
  }
  return { document: doc.toJS({ maxAliasCount: 100 }) };
}

/** `auth.tokenUrl`, `defaultScopes[1]`: the path of a zod issue, as the operator wrote it. */
function formatPath(path: PropertyKey[]): string {
  return path.reduce<string>((out, key) => (typeof key === "number" ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), "");
}

/** What zod's expected types are called in a one-line problem (`int`: a fraction where a whole number belongs). */
const EXPECTED: Record<string, string> = { array: "a list", object: "a map", record: "a map", int: "a whole number" };

/** One operator-readable problem per zod issue (one per unknown key). */
function issueProblems(issue: z.core.$ZodIssue): { field: string; problem: string }[] {
  const field = formatPath(issue.path);
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => ({ field: formatPath([...issue.path, key]), problem: "unknown field" }));
    case "invalid_type":
      return [
        {
          field,
          problem: issue.input === undefined ? "is required" : `must be ${EXPECTED[issue.expected] ?? `a ${issue.expected}`}`,
        },
      ];
    case "invalid_value":
      return [{ field, problem: `must be ${issue.values.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${issue.values.map(String).join(", ")}`}` }];
    case "too_small":
    case "too_big":
    case "invalid_format":
    case "custom":
    case "invalid_union":
    default:
      return [{ field, problem: issue.message }];
  }
}

/** Checks one connector file's text and collects every problem. */
export function checkConnectorText(file: string, text: string, env: NodeJS.ProcessEnv): ConnectorCheck {
  const parsed = parseText(file, text);
  if (parsed.error) return { errors: [parsed.error] };
  if (parsed.document === null || typeof parsed.document !== "object" || Array.isArray(parsed.document)) {
    return { errors: [new ConnectorConfigError(file, "", "must contain one connector (a map with id, name, auth…)")] };
  }
  const references = resolveReferences(parsed.document, env);
  const problems = [...references.problems];
  // reportInput tells "is required" (input undefined) apart from "must be a string"; inputs never reach a message.
  const result = connectorFileSchema.safeParse(references.document, { reportInput: true });
  if (!result.success) problems.push(...result.error.issues.flatMap(issueProblems));
  // One line per field: an unset variable in a URL would otherwise also be reported as "not a URL".
  const byField = new Map<string, string>();
  for (const { field, problem } of problems) if (!byField.has(field)) byField.set(field, problem);
  const errors = [...byField].map(([field, problem]) => new ConnectorConfigError(file, field, problem));
  if (errors.length > 0 || !result.success) return { errors };
  return { connector: { ...result.data, source: { file, missingEnv: references.missingEnv } }, errors: [] };
}

/** Parses one connector file's text; throws the first problem as a ConnectorConfigError. */
export function parseConnectorText(file: string, text: string, env: NodeJS.ProcessEnv): ConnectorConfig {
  const { connector, errors } = checkConnectorText(file, text, env);
  if (errors[0]) throw errors[0];
  return connector!;
}

/** Checks one file on disk. */
export async function checkConnectorFile(path: string, env: NodeJS.ProcessEnv): Promise<ConnectorCheck> {
  const file = displayPath(path);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    return { errors: [new ConnectorConfigError(file, "", `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)] };
  }
  return checkConnectorText(file, text, env);
}

/** The connector files of a directory (sorted names), or why it cannot be read. */
export async function connectorFileNames(dir: string): Promise<{ names: string[]; error?: undefined } | { names?: undefined; error: ConnectorConfigError }> {
  try {
    if (!(await stat(dir)).isDirectory()) return { error: new ConnectorConfigError(displayPath(dir), "", "is not a directory (CONNECTORS_DIR)") };
    return { names: (await readdir(dir)).filter((name) => CONNECTOR_FILE.test(name) && !name.startsWith(".")).sort() };
  } catch (err) {
    return {
      error: new ConnectorConfigError(
        displayPath(dir),
        "",
        `cannot be read (CONNECTORS_DIR): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      ),
    };
  }
}

/** Checks every connector file of a directory, including ids unique across files. */
export async function checkConnectorDir(dir: string, env: NodeJS.ProcessEnv): Promise<ConnectorDirCheck> {
  const listing = await connectorFileNames(dir);
  if (listing.error) return { connectors: [], errors: [listing.error] };
  const names = listing.names;
  const connectors: ConnectorConfig[] = [];
  const errors: ConnectorConfigError[] = [];
  const byId = new Map<string, ConnectorConfig>();
  for (const name of names) {
    const check = await checkConnectorFile(join(dir, name), env);
    errors.push(...check.errors);
    if (!check.connector) continue;
    const other = byId.get(check.connector.id);
    if (other) {
      errors.push(new ConnectorConfigError(check.connector.source.file, "id", `"${check.connector.id}" is already used by ${other.source.file}`));
      continue;
    }
    byId.set(check.connector.id, check.connector);
    connectors.push(check.connector);
  }
  return { connectors, errors };
}

/**
 * Loads the connectors of a directory for the broker. Throws the first
 * problem: a broker with a broken connector file does not start.
 */
export async function loadConnectors(dir: string, env: NodeJS.ProcessEnv): Promise<ConnectorRegistry> {
  const { connectors, errors } = await checkConnectorDir(dir, env);
  if (errors[0]) throw errors[0];
  return new ConnectorRegistry(connectors);
}
