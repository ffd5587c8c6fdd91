/**
 * The values an end user types on a connect page (basic/api_key fields, a
 * password grant's name and password, a jwt_bearer subject), checked the
 * same way for every kind before anything is sent upstream.
 */
import { FormValuesRejected } from "../errors.js";
import type { PromptField } from "./types.js";

/** Longer than any key or password an upstream issues; keeps a pasted file out of headers. */
const MAX_VALUE_LENGTH = 4096;

/**
 * The form's own checks, before anything is sent upstream: every field
 * present, within length, free of control characters (they would end a
 * header), and matching its declared pattern.
 */
export function checkTypedValues(fields: PromptField[], values: Record<string, string>): void {
  for (const field of fields) {
    const value = values[field.name] ?? "";
    if (value === "") {
      if (field.required) throw new FormValuesRejected(`${field.label} is required`, field.name);
      continue;
    }
    if (value.length > MAX_VALUE_LENGTH) throw new FormValuesRejected(`${field.label} is too long`, field.name);
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(value)) throw new FormValuesRejected(`${field.label} contains characters that cannot be sent`, field.name);
    if (field.pattern !== undefined && !new RegExp(`^(?:${field.pattern})$`).test(value))
      throw new FormValuesRejected(`${field.label} does not have the expected format`, field.name);
  }
}
