/**
 * `npm run docs:connectors`: writes the field reference of the connector
 * file format into docs/connectors.md, between the two marker comments,
 * from the zod schema (src/connectors/schema.ts and the kinds' descriptors):
 * every field with its type, default, the auth kinds it applies to and its
 * `.describe()` text, and a table of the kinds from their descriptors.
 * test/unit/connectors/docs.test.ts fails when the file is out of date.
 *
 * The schema is read through its JSON Schema (`z.toJSONSchema`, input side:
 * what an operator writes, defaults included).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { AUTH_KINDS } from "../src/connectors/kinds/catalog.js";
import { connectorFileSchema, CREDENTIAL_FIELDS, TEMPLATE_FIELDS } from "../src/connectors/schema.js";

export const CONNECTORS_DOC = fileURLToPath(new URL("../docs/connectors.md", import.meta.url));
export const BEGIN_MARKER = "<!-- BEGIN GENERATED: connector reference (npm run docs:connectors) -->";
export const END_MARKER = "<!-- END GENERATED: connector reference -->";

/** The subset of JSON Schema that z.toJSONSchema writes for the connector schema. */
interface JsonSchema {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  format?: string;
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
}

interface FieldRow {
  path: string;
  type: string;
  defaultValue: string;
  meaning: string;
  /** The auth kinds the field belongs to; undefined for fields outside `auth` (every kind). */
  kinds?: string[];
}

const FORMATS: Record<string, string> = { uri: "URL", regex: "regular expression", "json-path": "dotted JSON path" };

const code = (value: string) => `\`${value}\``;

function typeOf(schema: JsonSchema): string {
  // Any JSON value (`identity.body`): zod describes it by a recursive reference.
  if (schema.format === "json") return "any JSON value";
  if (schema.const !== undefined) return code(String(schema.const));
  if (schema.enum) return `one of ${schema.enum.map((v) => code(String(v))).join(", ")}`;
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return [...new Set(union.map(typeOf))].join(" or ");
  if (Array.isArray(schema.type)) return schema.type.map((type) => typeOf({ type })).join(" or ");
  switch (schema.type) {
    case "string":
      return (schema.format && FORMATS[schema.format]) ?? "string";
    case "integer":
    case "number": {
      const range = schema.minimum !== undefined && schema.maximum !== undefined ? ` (${schema.minimum}–${schema.maximum})` : "";
      return `${schema.type === "integer" ? "whole number" : "number"}${range}`;
    }
    case "boolean":
      return "boolean";
    case "array":
      return `list of ${schema.items ? typeOf(schema.items) : "values"}`;
    case "object":
      if (schema.properties) return "map (fields below)";
      if (typeof schema.additionalProperties === "object") return `map of name → ${typeOf(schema.additionalProperties)}`;
      return "map";
    default:
      throw new TypeError(`no type name for ${JSON.stringify(schema)}`);
  }
}

function defaultOf(schema: JsonSchema, required: boolean): string {
  if (schema.default !== undefined) return code(JSON.stringify(schema.default));
  return required ? "required" : "—";
}

/** The rows of an object's fields, and of the fields of the maps and lists of maps inside it. */
function fieldRows(schema: JsonSchema, prefix: string): FieldRow[] {
  const rows: FieldRow[] = [];
  for (const [name, field] of Object.entries(schema.properties ?? {})) {
    const path = `${prefix}${name}`;
    if (!field.description) throw new TypeError(`connector field ${path} has no description: give it one with .describe() in the schema`);
    rows.push({ path, type: typeOf(field), defaultValue: defaultOf(field, schema.required?.includes(name) ?? false), meaning: field.description });
    if (field.properties) rows.push(...fieldRows(field, `${path}.`));
    if (field.items?.properties) rows.push(...fieldRows(field.items, `${path}[].`));
  }
  return rows;
}

/**
 * The `auth` fields of every kind, one row per field and meaning: a field
 * several kinds declare alike is one row naming them all.
 */
function authRows(auth: JsonSchema): FieldRow[] {
  const rows = new Map<string, FieldRow>();
  for (const section of auth.oneOf ?? []) {
    const kind = String(section.properties?.kind?.const);
    const { kind: _kind, ...fields } = section.properties ?? {};
    for (const row of fieldRows({ ...section, properties: fields }, "auth.")) {
      const key = JSON.stringify([row.path, row.type, row.defaultValue, row.meaning]);
      const known = rows.get(key);
      if (known) known.kinds!.push(kind);
      else rows.set(key, { ...row, kinds: [kind] });
    }
  }
  // The variants of one field side by side, in the order the fields first appear.
  const firstSeen = [...new Set([...rows.values()].map((row) => row.path))];
  return [...rows.values()].sort((a, b) => firstSeen.indexOf(a.path) - firstSeen.indexOf(b.path));
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`, ...rows.map((row) => `| ${row.map(cell).join(" | ")} |`)].join("\n");
}

function kindsTable(): string {
  return table(
    ["kind", "the end user", "the broker's own client credentials", "`identity.url`", "`api.credentials` by default"],
    AUTH_KINDS.map((kind) => [
      code(kind.name),
      kind.describeConnect({ name: "the service", perServer: false }),
      kind.brokerCredentials ? "needed (file, or `authbroker credentials set`)" : "none: end users enter their own",
      kind.identityUrlRequired ? `required: ${kind.identityUrlRequired}` : kind.identityFromClaims ? "optional: the ID token's claims otherwise" : "optional",
      code(kind.defaultApiCredentials ?? "bearer"),
    ]),
  );
}

function fieldsTable(): string {
  const schema = z.toJSONSchema(connectorFileSchema, { io: "input" }) as JsonSchema;
  const all = AUTH_KINDS.length;
  const rows = fieldRows(schema, "").flatMap((row) => {
    if (row.path !== "auth") return [row];
    const kindRow: FieldRow = {
      path: "auth.kind",
      type: `one of ${AUTH_KINDS.map((kind) => code(kind.name)).join(", ")}`,
      defaultValue: "required",
      meaning: "The auth kind (table above).",
    };
    return [row, kindRow, ...authRows(schema.properties!.auth!)];
  });
  return table(
    ["field", "type", "default", "kinds", "meaning"],
    rows.map((row) => [
      code(row.path),
      row.type,
      row.defaultValue,
      !row.kinds || row.kinds.length === all ? "all" : row.kinds.map(code).join(", "),
      row.meaning,
    ]),
  );
}

/** The generated part of docs/connectors.md, markers excluded. */
export function renderConnectorReference(): string {
  const placeholders = [
    `\`{hostname}\` is filled in ${TEMPLATE_FIELDS.map(code).join(", ")}.`,
    `An unset \`\${env:…}\` is allowed in ${CREDENTIAL_FIELDS.map(code).join(" and ")} only.`,
  ].join(" ");
  return `### Auth kinds\n\n${kindsTable()}\n\n### Fields\n\n${placeholders}\n\n${fieldsTable()}\n`;
}

/** The document with the part between the markers replaced by `generated`. */
export function withConnectorReference(document: string, generated: string): string {
  const begin = document.indexOf(BEGIN_MARKER);
  const end = document.indexOf(END_MARKER);
  if (begin === -1 || end < begin) throw new Error(`docs/connectors.md must contain ${BEGIN_MARKER} and then ${END_MARKER}`);
  return `${document.slice(0, begin + BEGIN_MARKER.length)}\n\n${generated}\n${document.slice(end)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const current = readFileSync(CONNECTORS_DOC, "utf8");
  const updated = withConnectorReference(current, renderConnectorReference());
  if (updated !== current) writeFileSync(CONNECTORS_DOC, updated);
  console.log(updated === current ? "docs/connectors.md is up to date" : "docs/connectors.md updated");
}
