/**
 * The two kinds of braces a connector file may contain, checked on the text
 * as the operator wrote it (before any value is substituted, so a secret
 * that happens to contain braces is never mistaken for a placeholder):
 *
 * - `${env:NAME}` is replaced at load by the variable from the env passed in.
 *   Unset in a credential field, it leaves the field out (the operator may
 *   store the credential with `authbroker credentials set`); unset anywhere
 *   else, it is an error naming the field and the variable.
 *   `${env:NAME:-default}` (as in the shell) stands for `default` when the
 *   variable is unset or empty, so a shipped file can name a setting (a
 *   Microsoft tenant) and still load before the operator sets it.
 * - `{hostname}` and `{values.<name>}` stay in the value, to be filled per
 *   account; any other `{…}`, or one in a field that is never filled, is an error.
 */
import { CREDENTIAL_FIELDS, TEMPLATE_FIELDS, VALUE_TEMPLATE_FIELDS } from "./schema.js";
import { CLIENT_ID_PLACEHOLDER, HOSTNAME_PLACEHOLDER, TENANT_PLACEHOLDER, TOKEN_PLACEHOLDER } from "./schema-fields.js";

/** Placeholders filled elsewhere than TEMPLATE_FIELDS, and the one field each may appear in. */
const OTHER_PLACEHOLDERS: Record<string, string> = { [TENANT_PLACEHOLDER]: "auth.idTokenIssuer", [CLIENT_ID_PLACEHOLDER]: "auth.revocation.url" };

/** `{token}`: the account's token, in the URLs of the calls that take it in the path. */
const TOKEN_FIELDS = ["identity.url", "auth.revocation.url"];

export interface FieldProblem {
  field: string;
  problem: string;
}

export interface ResolvedReferences {
  document: unknown;
  /** Variables of credential fields that were unset. */
  missingEnv: string[];
  problems: FieldProblem[];
}

const REFERENCE = /\$\{([^}]*)\}/g;
const ENV_REFERENCE = /^env:([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/;
const PLACEHOLDER = /\{([^{}]*)\}/g;

/** `auth.tokenUrl`, `defaultScopes[1]`, `scopes.files.read[0]`. */
function joinPath(parent: string, key: string | number): string {
  if (typeof key === "number") return `${parent}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}

/** The path without array indices, as TEMPLATE_FIELDS and CREDENTIAL_FIELDS spell it. */
function fieldOf(path: string): string {
  return path.replace(/\[\d+\]/g, "");
}

/**
 * The fields `{hostname}` is filled in: TEMPLATE_FIELDS, `auth.revocation.url`
 * (custom-revocation.ts fills it), each of `api.bases`, and the URL of each
 * value read by a call (`values.<name>.url`).
 */
function isTemplateField(field: string): boolean {
  return (
    (TEMPLATE_FIELDS as readonly string[]).includes(field) ||
    field === "auth.revocation.url" ||
    field === "auth.session.url" ||
    /^values\.[^.]+\.url$/.test(field) ||
    /^api\.bases\.[^.]+$/.test(field)
  );
}

/** Regular expressions use `{n,m}` quantifiers; they are never templates. */
function isRegexField(path: string): boolean {
  return /(^|\.)pattern$/.test(fieldOf(path));
}

/** `identity.body` is JSON sent as it is written (a GraphQL query's braces): never a template. */
function isLiteralField(path: string): boolean {
  const field = fieldOf(path);
  return field === "identity.body" || field.startsWith("identity.body.");
}

export function resolveReferences(document: unknown, env: NodeJS.ProcessEnv): ResolvedReferences {
  const missingEnv: string[] = [];
  const problems: FieldProblem[] = [];
  const DROP = Symbol("drop");

  function resolveString(value: string, path: string): string | typeof DROP {
    const field = fieldOf(path);
    if (!isRegexField(path) && !isLiteralField(path)) {
      for (const [, inner] of value.replace(REFERENCE, "").matchAll(PLACEHOLDER)) {
        const only = OTHER_PLACEHOLDERS[`{${inner}}`];
        if (inner?.startsWith("values.")) {
          // Which names exist, and where in the URL each may stand, is the schema's check (it knows the values section).
          if (!(VALUE_TEMPLATE_FIELDS as readonly string[]).includes(field.replace(/^api\.bases\..*$/, "api.bases")))
            problems.push({ field: path, problem: `{${inner}} is only filled in ${VALUE_TEMPLATE_FIELDS.join(", ")}` });
        } else if (`{${inner}}` === TOKEN_PLACEHOLDER) {
          if (!TOKEN_FIELDS.includes(field)) problems.push({ field: path, problem: `{token} is only filled in ${TOKEN_FIELDS.join(" and ")}` });
        } else if (only !== undefined) {
          if (field !== only) problems.push({ field: path, problem: `{${inner}} is only filled in ${only}` });
        } else if (`{${inner}}` !== HOSTNAME_PLACEHOLDER) {
          problems.push({
            field: path,
            problem: `unknown placeholder {${inner}}: only {hostname}, {values.<name>} (and {tid} in auth.idTokenIssuer, {clientId} in auth.revocation.url, {token} in identity.url and auth.revocation.url) are supported`,
          });
        } else if (!isTemplateField(field)) {
          problems.push({
            field: path,
            problem: `{hostname} is only filled in ${TEMPLATE_FIELDS.join(", ")}, auth.revocation.url, api.bases and values.<name>.url`,
          });
        }
      }
    }
    let missing = false;
    const resolved = value.replace(REFERENCE, (whole, inner: string) => {
      const [, name, fallback] = ENV_REFERENCE.exec(inner) ?? [];
      if (name === undefined) {
        problems.push({ field: path, problem: `unknown reference ${whole}: only \${env:NAME} and \${env:NAME:-default} are supported` });
        return whole;
      }
      const envValue = env[name];
      if (envValue !== undefined && envValue !== "") return envValue;
      if (fallback !== undefined) return fallback;
      if ((CREDENTIAL_FIELDS as readonly string[]).includes(field)) {
        if (!missingEnv.includes(name)) missingEnv.push(name);
      } else {
        problems.push({ field: path, problem: `environment variable ${name} is not set` });
      }
      missing = true;
      return whole;
    });
    return missing && (CREDENTIAL_FIELDS as readonly string[]).includes(field) ? DROP : resolved;
  }

  function walk(value: unknown, path: string): unknown {
    if (typeof value === "string") return resolveString(value, path);
    if (Array.isArray(value)) return value.map((item, index) => walk(item, joinPath(path, index)));
    if (value !== null && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        const resolved = walk(item, joinPath(path, key));
        // defineProperty, not assignment: a `__proto__` key must stay a (refused) field, not become the prototype.
        if (resolved !== DROP) Object.defineProperty(out, key, { value: resolved, enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return value;
  }

  return { document: walk(document, ""), missingEnv, problems };
}
