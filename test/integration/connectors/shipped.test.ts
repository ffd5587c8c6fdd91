/**
 * The connector files shipped in connectors/ (issue 5): one for a
 * well-known service of every auth kind but password_grant, each valid with no environment at
 * all (`authbroker connectors validate`, run as the real CLI), with the
 * kind, per-server-ness and endpoints their services document.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkConnectorDir } from "../../../src/connectors/loader.js";
import { isPerServer } from "../../../src/connectors/template.js";
import {
  loadBuiltInKinds,
  isPasswordExchanger,
  isRedirectAuthorizer,
  isServiceTokenFetcher,
  isStaticCredentialChecker,
} from "../../../src/connectors/kinds/index.js";

const BIN = fileURLToPath(new URL("../../../bin/authbroker.js", import.meta.url));
const SHIPPED = fileURLToPath(new URL("../../../connectors", import.meta.url));

/** id → [kind, per-server]. */
const EXPECTED: Record<string, [string, boolean]> = {
  google: ["oidc", false],
  "google-drive": ["oidc", false],
  "microsoft-graph": ["oidc", false],
  "microsoft-graph-app": ["client_credentials", false],
  github: ["oauth2", false],
  salesforce: ["oauth2", true],
  box: ["jwt_bearer", false],
  "google-service-account": ["jwt_bearer", false],
  servicenow: ["oauth2", true],
  "gitlab-self-managed": ["oauth2", true],
  "jira-cloud": ["basic", true],
  "jira-cloud-oauth": ["oauth2", false],
  sendgrid: ["api_key", false],
  "backblaze-b2": ["api_key", false],
  "amazon-s3": ["api_key", false],
  "s3-compatible": ["api_key", true],
  reddit: ["oauth2", false],
  "spotify-app": ["client_credentials", false],
  slack: ["oauth2", false],
  notion: ["oauth2", false],
  hubspot: ["oauth2", false],
  dropbox: ["oauth2", false],
  zoom: ["oauth2", false],
  "confluence-cloud": ["oauth2", false],
  linear: ["oauth2", false],
  asana: ["oauth2", false],
  shopify: ["oauth2", true],
  stripe: ["api_key", false],
  "box-user": ["oauth2", false],
};

describe("the shipped connector files", () => {
  it("are valid with no environment at all, one or more for every auth kind", () => {
    const cwd = mkdtempSync(join(tmpdir(), "authbroker-shipped-"));
    try {
      const result = spawnSync(process.execPath, [BIN, "connectors", "validate", "--json"], {
        cwd,
        env: { PATH: process.env.PATH ?? "", CONNECTORS_DIR: SHIPPED },
        encoding: "utf8",
        timeout: 60_000,
      });
      assert.equal(result.status, 0, result.stdout + result.stderr);
      const report = JSON.parse(result.stdout) as { valid: boolean; connectors: { id: string; kind: string }[] };
      const kinds = Object.fromEntries(report.connectors.map((c) => [c.id, c.kind]));
      for (const [id, [kind]] of Object.entries(EXPECTED)) assert.equal(kinds[id], kind, `${id} is ${kind}`);
      // Every kind but password_grant: Reddit's script apps, its one shipped use, get no refresh token (reddit.yaml replaced it).
      assert.deepEqual(new Set(Object.values(kinds)), new Set(["oauth2", "oidc", "jwt_bearer", "client_credentials", "basic", "api_key"]));
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it("each connects the way its kind says: a sign-in page, a form, or the broker's own token", async () => {
    const { connectors, errors } = await checkConnectorDir(SHIPPED, {});
    assert.deepEqual(errors, []);
    const kinds = await loadBuiltInKinds();
    for (const connector of connectors) {
      const expected = EXPECTED[connector.id];
      if (expected) assert.equal(isPerServer(connector), expected[1], `${connector.id} per-server`);
      const kind = kinds.for(connector);
      if (connector.auth.kind === "oauth2" || connector.auth.kind === "oidc") assert.ok(isRedirectAuthorizer(kind));
      if (connector.auth.kind === "basic" || connector.auth.kind === "api_key") {
        assert.ok(isStaticCredentialChecker(kind));
        assert.ok(
          kind.credentialFields(connector).some((f) => f.secret),
          `${connector.id} has a secret field`,
        );
      }
      if (connector.auth.kind === "password_grant") assert.ok(isPasswordExchanger(kind));
      if (connector.auth.kind === "jwt_bearer" || connector.auth.kind === "client_credentials") assert.ok(isServiceTokenFetcher(kind));
    }
    const box = connectors.find((c) => c.id === "box")!;
    assert.ok(box.auth.kind === "jwt_bearer" && box.auth.claims.box_sub_type === "enterprise" && box.auth.assertionLifetimeSeconds <= 60);
    const jira = connectors.find((c) => c.id === "jira-cloud")!;
    assert.equal(jira.api?.credentials, "basic");
  });
});
