/**
 * docs/connectors.md carries the field reference of the connector file
 * format, generated from the schema by `npm run docs:connectors`: a field
 * added, renamed or described anew in the schema without regenerating the
 * page fails here.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { CONNECTORS_DOC, renderConnectorReference, withConnectorReference } from "../../../scripts/connectors-docs.js";
import { AUTH_KINDS } from "../../../src/connectors/kinds/catalog.js";

describe("the connector reference in docs/connectors.md", () => {
  it("is what npm run docs:connectors writes from the schema (which describes every field)", () => {
    const document = readFileSync(CONNECTORS_DOC, "utf8");
    const reference = renderConnectorReference();
    assert.equal(document, withConnectorReference(document, reference), "docs/connectors.md is out of date: run npm run docs:connectors");
  });

  it("lists every auth kind and the fields of each section", () => {
    const reference = renderConnectorReference();
    for (const kind of AUTH_KINDS) assert.match(reference, new RegExp(`^\\| \`${kind.name}\` \\|`, "m"), `${kind.name} in the kinds table`);
    for (const field of [
      "id",
      "auth.kind",
      "auth.tokenUrl",
      "auth.fields[].secret",
      "hostname.pattern",
      "api.credentials",
      "identity.emailVerified",
      "refresh.marginSeconds",
    ])
      assert.match(reference, new RegExp(`^\\| \`${field.replace(/[.[\]]/g, "\\$&")}\` \\|`, "m"), field);
  });
});
