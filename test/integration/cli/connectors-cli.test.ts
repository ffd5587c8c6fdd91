/**
 * `authbroker connectors validate|list` and `authbroker credentials set`,
 * run as the real CLI. Validation needs neither keys nor a database; the
 * shipped example connectors load with no environment at all.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { createTestServices, randomKeyEntry, type TestServices } from "../../support/services.js";

const BIN = fileURLToPath(new URL("../../../bin/authbroker.js", import.meta.url));
const SHIPPED = fileURLToPath(new URL("../../../connectors", import.meta.url));
/** Nothing listens here: a verb that needs no database must not try it, one that could use it must cope. */
const NO_DATABASE = "postgresql://postgres@127.0.0.1:1/none";

/** Runs the CLI in an empty directory (no .env) with exactly this environment. */
function runCli(args: string[], env: Record<string, string>, input?: string) {
  const cwd = mkdtempSync(join(tmpdir(), "authbroker-cli-"));
  try {
    const result = spawnSync(process.execPath, [BIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? "", ...env },
      encoding: "utf8",
      timeout: 60_000,
      input,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "connectors-cli-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const ACME = {
  id: "acme",
  name: "Acme",
  auth: {
    kind: "oauth2",
    authorizationUrl: "https://acme.example/authorize",
    tokenUrl: "https://acme.example/token",
    clientId: "${env:ACME_ID}",
    clientSecret: "${env:ACME_SECRET}",
  },
  scopes: { read: ["acme.read"] },
  identity: { url: "https://acme.example/me", subject: "id" },
};

describe("authbroker connectors validate", () => {
  it("the shipped connector files are valid with no environment at all (no keys, no database, no client ids)", () => {
    const result = runCli(["connectors", "validate", "--json"], { CONNECTORS_DIR: SHIPPED, DATABASE_URL: NO_DATABASE });
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { valid: boolean; connectors: { id: string; kind: string; needsCredentials: string[] }[] };
    assert.equal(report.valid, true);
    const byId = Object.fromEntries(report.connectors.map((c) => [c.id, c]));
    assert.equal(byId.github?.kind, "oauth2");
    assert.deepEqual(byId.github?.needsCredentials, ["GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"]);
    assert.equal(byId.google?.kind, "oidc");
    assert.ok(byId["gitlab-self-managed"], "a per-server example ships too");
  });

  it("exits 2 with one line per problem, `file: field: problem`", () => {
    const dir = dirWith({
      "acme.yaml": stringify(ACME),
      "bad.yaml": stringify({ ...ACME, id: "Bad Id", auth: { ...ACME.auth, tokenUrl: "http://acme.example/token" }, colour: "red" }),
      "copy.json": JSON.stringify(ACME),
    });
    try {
      const result = runCli(["connectors", "validate"], { CONNECTORS_DIR: dir });
      assert.equal(result.status, 2);
      const lines = result.stdout.trim().split("\n");
      assert.deepEqual(
        lines.map((l) => l.replaceAll(dir, "<dir>")).sort(),
        [
          "<dir>/bad.yaml: auth.tokenUrl: must be an https URL (http only for loopback or private addresses)",
          "<dir>/bad.yaml: colour: unknown field",
          "<dir>/bad.yaml: id: must match [a-z0-9-]+",
          // Files are read in name order: the later one is named, with the one that has the id.
          `<dir>/copy.json: id: "acme" is already used by <dir>/acme.yaml`,
        ].sort(),
      );
      assert.match(result.stderr, /4 problems in connector files/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it("checks one file when given, and reports it as JSON", () => {
    const dir = dirWith({ "one.yaml": stringify({ ...ACME, defaultScopes: ["write"] }) });
    try {
      const result = runCli(["connectors", "validate", join(dir, "one.yaml"), "--json"], {});
      assert.equal(result.status, 2);
      const report = JSON.parse(result.stdout) as { valid: boolean; errors: { field: string; problem: string }[] };
      assert.equal(report.valid, false);
      assert.deepEqual(
        report.errors.map((e) => [e.field, e.problem]),
        [["defaultScopes[0]", '"write" is not a key of scopes']],
      );
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it("a missing variable in a URL names the file, the field and the variable", () => {
    const dir = dirWith({ "acme.yaml": stringify({ ...ACME, api: { baseUrl: "https://${env:ACME_HOST}/v1" } }) });
    try {
      const result = runCli(["connectors", "validate"], { CONNECTORS_DIR: dir });
      assert.equal(result.status, 2);
      assert.equal(result.stdout.trim().replace(dir, "<dir>"), "<dir>/acme.yaml: api.baseUrl: environment variable ACME_HOST is not set");
      assert.equal(runCli(["connectors", "validate"], { CONNECTORS_DIR: dir, ACME_HOST: "api.acme.example" }).status, 0);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe("authbroker connectors list and credentials set", () => {
  const keys = randomKeyEntry();
  let services: TestServices;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    services = await createTestServices({ BROKER_ENCRYPTION_KEYS: keys });
    await services.db.app.create({
      data: { id: "app_cli", name: "CLI app", tokenEndpointAuthMethod: "client_secret_basic", redirectUris: [], grantTypes: [], responseTypes: [], scopes: [] },
    });
    dir = dirWith({
      "acme.yaml": stringify(ACME),
      "keys.yaml": stringify({
        id: "keys",
        name: "Keys",
        auth: { kind: "api_key", fields: [{ name: "key", label: "API key", secret: true }] },
        identity: { url: "https://keys.example/me", subject: "id" },
      }),
      "host.yaml": stringify({ ...ACME, id: "host", api: { baseUrl: "https://{hostname}/api" }, hostname: { pattern: "^[a-z.]+$" } }),
      // GitLab-like: its token endpoint is on each server, and each server registers the broker itself.
      "forge.yaml": stringify({
        ...ACME,
        id: "forge",
        auth: { kind: "oauth2", authorizationUrl: "https://{hostname}/oauth/authorize", tokenUrl: "https://{hostname}/oauth/token" },
        hostname: {},
      }),
    });
    env = { CONNECTORS_DIR: dir, DATABASE_URL: services.database.url, BROKER_ENCRYPTION_KEYS: keys, REDIS_URL: "redis://127.0.0.1:6379" };
  });

  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await services?.teardown();
  });

  type Listed = { id: string; kind: string; perServer: boolean; configured: boolean | string; credentials: string };
  function list(extra: Record<string, string> = {}): { connectors: Listed[]; databaseChecked: boolean } {
    const result = runCli(["connectors", "list", "--json"], { ...env, ...extra });
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout);
  }

  it("lists id, kind and per-server, and says a connector without client credentials needs them", () => {
    const listed = list();
    assert.equal(listed.databaseChecked, true);
    const acme = listed.connectors.find((c) => c.id === "acme")!;
    assert.equal(acme.kind, "oauth2");
    assert.equal(acme.perServer, false);
    assert.equal(acme.configured, false);
    assert.match(acme.credentials, /needs credentials: set ACME_ID, ACME_SECRET or run `authbroker credentials set acme`/);
    assert.equal(listed.connectors.find((c) => c.id === "host")?.perServer, true);
    assert.equal(listed.connectors.find((c) => c.id === "keys")?.configured, true, "api_key users bring their own");
  });

  it("counts credentials from the environment as configured", () => {
    const acme = list({ ACME_ID: "id", ACME_SECRET: "secret" }).connectors.find((c) => c.id === "acme")!;
    assert.deepEqual([acme.configured, acme.credentials], [true, "file"]);
  });

  it("lists without a database, saying stored credentials were not checked", () => {
    const result = runCli(["connectors", "list"], { CONNECTORS_DIR: dir, DATABASE_URL: "postgresql://postgres@127.0.0.1:1/none" });
    assert.equal(result.status, 0);
    assert.match(result.stdout, /^ID\s+NAME\s+KIND\s+PERSERVER\s+CONFIGURED\s+CREDENTIALS/);
    assert.match(result.stderr, /credentials stored in the database not shown/);
  });

  it("credentials set stores the secret from stdin, sealed, never printing it; list then shows the connector configured", async () => {
    const secret = "cli-secret-0123456789-abcdef";
    const result = runCli(["credentials", "set", "acme", "--client-id", "acme-client", "--client-secret-stdin", "--json"], env, `${secret}\n`);
    assert.equal(result.status, 0, result.stderr);
    assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret), "the secret is never printed");
    assert.deepEqual(JSON.parse(result.stdout), {
      connector: "acme",
      app: null,
      appKey: "*",
      hostname: null,
      clientId: "acme-client",
      clientSecretStored: true,
      created: true,
    });
    const row = await services.db.connectorCredential.findUniqueOrThrow({
      where: { connectorId_appKey_hostname: { connectorId: "acme", appKey: "*", hostname: "" } },
    });
    assert.equal(row.clientId, "acme-client");
    assert.equal(
      services.keyring.open(row.sealedClientSecret!, { rowId: row.id, field: "ConnectorCredential.sealedClientSecret" }),
      secret,
      "sealed exactly, without the newline",
    );
    const acme = list().connectors.find((c) => c.id === "acme")!;
    assert.deepEqual([acme.configured, acme.credentials], [true, "database"]);
  });

  it("credentials set --app stores per-app credentials", async () => {
    const result = runCli(["credentials", "set", "host", "--app", "app_cli", "--client-id", "host-client", "--client-secret", "host-secret"], env);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /stored the client credentials of "host" for app app_cli/);
    assert.equal(
      (
        await services.db.connectorCredential.findUniqueOrThrow({
          where: { connectorId_appKey_hostname: { connectorId: "host", appKey: "app_cli", hostname: "" } },
        })
      ).appId,
      "app_cli",
    );
    assert.equal(list().connectors.find((c) => c.id === "host")?.configured, "some apps");
  });

  it("credentials set --hostname registers one server of a per-server connector; list shows the servers", async () => {
    const before = list().connectors.find((c) => c.id === "forge")!;
    assert.equal(before.configured, false);
    assert.match(before.credentials, /needs servers: run `authbroker credentials set forge --hostname <server> …`/);
    const result = runCli(
      ["credentials", "set", "forge", "--hostname", "https://Git.Example.com/", "--client-id", "forge-client", "--client-secret-stdin", "--json"],
      env,
      "forge-secret\n",
    );
    assert.equal(result.status, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).hostname, "git.example.com", "stored as the connect pages store hostnames");
    const row = await services.db.connectorCredential.findUniqueOrThrow({
      where: { connectorId_appKey_hostname: { connectorId: "forge", appKey: "*", hostname: "git.example.com" } },
    });
    assert.equal(row.clientId, "forge-client");
    const after = list().connectors.find((c) => c.id === "forge")! as Listed & { servers: string[] };
    assert.deepEqual([after.configured, after.servers], [true, ["git.example.com"]]);
  });

  it("credentials set --hostname is refused for a connector whose credentials are connector-wide, and for a name that is not a host (exit 2)", () => {
    const wide = runCli(["credentials", "set", "acme", "--hostname", "git.example.com", "--client-id", "x", "--client-secret", "y"], env);
    assert.equal(wide.status, 2);
    assert.match(wide.stderr, /--hostname: connector "acme" does not send its credentials to the end user's server/);
    const path = runCli(["credentials", "set", "forge", "--hostname", "git.example.com/admin", "--client-id", "x", "--client-secret", "y"], env);
    assert.equal(path.status, 2);
    assert.match(path.stderr, /"git.example.com\/admin" is not a server address of forge: a server address here is a host name, without a path/);
    assert.equal(path.stderr.trim().split("\n").length, 1, "one line");
  });

  it("refuses an unknown connector (exit 3), an unknown app (exit 3), a missing secret and a kind without client credentials (exit 2)", () => {
    const unknown = runCli(["credentials", "set", "nope", "--client-id", "x", "--client-secret", "y"], env);
    assert.equal(unknown.status, 3);
    assert.match(unknown.stderr, /unknown connector "nope"; known: acme, forge, host, keys/);
    const noApp = runCli(["credentials", "set", "acme", "--app", "app_missing", "--client-id", "x", "--client-secret", "y"], env);
    assert.equal(noApp.status, 3);
    assert.match(noApp.stderr, /app "app_missing" not found/);
    const noSecret = runCli(["credentials", "set", "acme", "--client-id", "x"], env);
    assert.equal(noSecret.status, 2);
    assert.match(noSecret.stderr, /needs a client secret/);
    const userKeys = runCli(["credentials", "set", "keys", "--client-id", "x", "--client-secret", "y"], env);
    assert.equal(userKeys.status, 2);
    assert.match(userKeys.stderr, /has no client credentials: its end users enter their own/);
  });
});

describe("authbroker connectors validate: the fields for real providers' formats", () => {
  it("reports each misuse of auth.tokenResponse, identity.method/body, auth.revocation.tokenIn and {token} on one line", () => {
    const dir = dirWith({
      "quirks.yaml": stringify({
        ...ACME,
        auth: {
          ...ACME.auth,
          tokenResponse: { bearerTokenTypes: ["dpop"] },
          revocation: { url: "https://acme.example/revoke", tokenIn: "bearer", token: "access_token" },
        },
        api: { baseUrl: "https://acme.example/api/{token}" },
        identity: { ...ACME.identity, body: { query: "{ viewer { id } }" } },
      }),
    });
    try {
      const result = runCli(["connectors", "validate"], { CONNECTORS_DIR: dir });
      assert.equal(result.status, 2);
      const lines = result.stdout
        .trim()
        .split("\n")
        .map((l) => l.replaceAll(dir, "<dir>"));
      assert.deepEqual(
        lines.sort(),
        [
          "<dir>/quirks.yaml: api.baseUrl: {token} is only filled in identity.url and auth.revocation.url",
          "<dir>/quirks.yaml: auth.revocation.clientAuth: cannot be client_secret_basic with tokenIn: bearer: both use the Authorization header",
          "<dir>/quirks.yaml: auth.tokenResponse.bearerTokenTypes[0]: bearer and DPoP are not leniencies: bearer is always taken, DPoP never",
          "<dir>/quirks.yaml: identity.body: is sent only with identity.method: POST",
        ].sort(),
      );
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
