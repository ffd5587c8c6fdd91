/**
 * What the connect pages list an app will be able to do, for connector
 * scopes: the connector file's words (`scopeDescriptions`) where it gives
 * them, else the scope's name and the upstream scopes it asks for.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parse } from "node-html-parser";
import { describeScopes, renderConsent } from "../../../src/connect/consent.js";
import { stringify } from "yaml";
import { parseConnectorText } from "../../../src/connectors/loader.js";

const connector = parseConnectorText(
  "initech.yaml",
  stringify({
    id: "initech",
    name: "Initech Files",
    auth: { kind: "oidc", issuer: "https://id.initech.example", clientId: "x", clientSecret: "y" },
    scopes: { "files.read": ["files:read", "openid"], admin: ["files:admin"] },
    scopeDescriptions: { "files.read": "See your files and folders" },
    allowRawScopes: true,
    api: { baseUrl: "https://api.initech.example" },
  }),
  {},
);

describe("the consent list, for connector scopes", () => {
  it("says what a described scope allows in words, an undescribed one by its name and upstream scopes", () => {
    const rendered = renderConsent(
      "Files Viewer",
      describeScopes(["proxy", "initech:files.read", "initech:admin", "initech:raw:files:share"], (id) => (id === "initech" ? connector : undefined)),
    );
    const items = parse(rendered.value)
      .querySelectorAll("li")
      .map((li) => li.text.replace(/\s+/g, " ").trim());
    assert.deepEqual(items, [
      "Use the service's API on your behalf, through this broker (proxy)",
      "Initech Files: See your files and folders (initech:files.read)",
      "Initech Files: admin (asks for files:admin)",
      "Initech Files permission “files:share” (asks for files:share)",
    ]);
  });
});
