/**
 * `authbroker apps create|list`, run as the real CLI against a real database:
 * a confidential app's secret is printed once and stored only as its hash;
 * listings never show a secret or a hash; bad input is one line, exit 2.
 * (`apps rotate-secret`: apps-rotate-secret-cli.test.ts.)
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { hashSecret, secretMatches } from "../../../src/crypto/secrets.js";
import { createTestServices, randomKeyEntry, TEST_REDIS_URL, type TestServices } from "../../support/services.js";

const BIN = fileURLToPath(new URL("../../../bin/authbroker.js", import.meta.url));

describe("apps CLI", () => {
  let services: TestServices;
  let env: Record<string, string>;

  before(async () => {
    services = await createTestServices();
    env = { DATABASE_URL: services.database.url, REDIS_URL: TEST_REDIS_URL, BROKER_ENCRYPTION_KEYS: randomKeyEntry() };
  });

  after(async () => {
    await services?.teardown();
  });

  /** Runs the CLI in an empty directory (no .env) with exactly this environment. */
  function cli(...args: string[]) {
    return cliWith({}, ...args);
  }

  /** The same, with variables added to the environment. */
  function cliWith(extraEnv: Record<string, string>, ...args: string[]) {
    const cwd = mkdtempSync(join(tmpdir(), "authbroker-apps-"));
    // An empty connectors directory at the default CONNECTORS_DIR, as `init` leaves it.
    mkdirSync(join(cwd, "connectors"));
    try {
      const result = spawnSync(process.execPath, [BIN, ...args], {
        cwd,
        env: { PATH: process.env.PATH ?? "", ...env, ...extraEnv },
        encoding: "utf8",
        timeout: 60_000,
      });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  }

  describe("apps create", () => {
    it("prints the client id and the secret once, with a warning, and stores only the secret's hash", async () => {
      const result = cli("apps", "create", "--name", "Acme Web", "--redirect-uri", "https://acme.example.test/cb", "--redirect-uri", "http://127.0.0.1/cb");
      assert.equal(result.status, 0, result.stderr);
      const clientId = /client_id:\s+(\S+)/.exec(result.stdout)?.[1];
      const secret = /client_secret:\s+(\S+)/.exec(result.stdout)?.[1];
      assert.ok(clientId && secret, result.stdout);
      assert.match(result.stdout, /shown only now/);
      const row = await services.db.app.findUniqueOrThrow({ where: { id: clientId } });
      assert.equal(row.name, "Acme Web");
      assert.deepEqual(row.redirectUris, ["https://acme.example.test/cb", "http://127.0.0.1/cb"]);
      assert.equal(row.isPublic, false);
      assert.equal(row.tokenEndpointAuthMethod, "client_secret_basic");
      assert.equal(row.authMethodNarrowed, false, "registered with defaults: the secret in the header or in the body");
      assert.equal(row.secretHash, hashSecret(secret));
      assert.ok(secretMatches(secret, row.secretHash!));
      const dump = JSON.stringify(await services.db.app.findMany());
      assert.ok(!dump.includes(secret), "the secret itself is nowhere in the database");
    });

    it("--json gives the registration and the secret, the warning on stderr", async () => {
      const result = cli(
        "apps",
        "create",
        "--json",
        "--name",
        "Backend",
        "--grant-types",
        "client_credentials",
        "--scopes",
        "proxy,accounts:read",
        "--access-token-ttl",
        "900",
        "--token-endpoint-auth-method",
        "client_secret_post",
        "--connectors",
        "acme,gh",
        "--allow-upstream-tokens",
      );
      assert.equal(result.status, 0, result.stderr);
      const app = JSON.parse(result.stdout) as Record<string, unknown>;
      assert.equal(app.type, "confidential");
      assert.deepEqual(app.grant_types, ["client_credentials"]);
      assert.deepEqual(app.scopes, ["proxy", "accounts:read"]);
      assert.deepEqual(app.connectors, ["acme", "gh"]);
      assert.equal(app.access_token_ttl, 900);
      assert.equal(app.allow_upstream_tokens, true);
      assert.equal(app.require_pkce, true, "PKCE is required unless the app opts out");
      assert.equal(app.token_endpoint_auth_method, "client_secret_post");
      assert.deepEqual(app.token_endpoint_auth_methods, ["client_secret_post"], "naming a method narrows the app to it");
      assert.equal(typeof app.client_secret, "string");
      assert.equal(app.secret_hash, undefined);
      assert.match(result.stderr, /shown only now/);
      const row = await services.db.app.findUniqueOrThrow({ where: { id: String(app.client_id) } });
      assert.equal(row.secretHash, hashSecret(String(app.client_secret)));
    });

    it("--public makes a public client: no secret, authentication none", async () => {
      const result = cli("apps", "create", "--json", "--public", "--name", "SPA", "--redirect-uri", "https://spa.example.test/cb", "--response-types", "code");
      assert.equal(result.status, 0, result.stderr);
      const app = JSON.parse(result.stdout) as Record<string, unknown>;
      assert.equal(app.type, "public");
      assert.equal(app.token_endpoint_auth_method, "none");
      assert.equal(app.client_secret, undefined);
      assert.equal(result.stderr, "");
      const row = await services.db.app.findUniqueOrThrow({ where: { id: String(app.client_id) } });
      assert.equal(row.secretHash, null);
    });

    it("a lifetime over the broker's limit is refused with a line naming the limit and its variable", () => {
      const access = cli("apps", "create", "--name", "X", "--redirect-uri", "https://x.example.test/cb", "--access-token-ttl", "31536000");
      assert.equal(access.status, 2);
      assert.match(access.stderr, /access token lifetime must be 60\.\.86400 seconds \(ACCESS_TOKEN_MAX_TTL_SECONDS\)/);
      const refresh = cli("apps", "create", "--name", "X", "--redirect-uri", "https://x.example.test/cb", "--refresh-token-ttl", "31536000");
      assert.match(refresh.stderr, /refresh token lifetime must be 60\.\.7776000 seconds \(REFRESH_TOKEN_MAX_TTL_SECONDS\)/);
      assert.equal(
        cli(
          "apps",
          "create",
          "--name",
          "At the limits",
          "--redirect-uri",
          "https://x.example.test/cb",
          "--access-token-ttl",
          "86400",
          "--refresh-token-ttl",
          "7776000",
        ).status,
        0,
      );
    });

    it("the limits are the operator's: ACCESS_TOKEN_MAX_TTL_SECONDS and REFRESH_TOKEN_MAX_TTL_SECONDS", () => {
      const limits = { ACCESS_TOKEN_MAX_TTL_SECONDS: "600", REFRESH_TOKEN_MAX_TTL_SECONDS: "3600" };
      assert.match(
        cliWith(limits, "apps", "create", "--name", "X", "--redirect-uri", "https://x.example.test/cb", "--access-token-ttl", "601").stderr,
        /60\.\.600 seconds/,
      );
      assert.match(
        cliWith(limits, "apps", "create", "--name", "X", "--redirect-uri", "https://x.example.test/cb", "--refresh-token-ttl", "3601").stderr,
        /60\.\.3600 seconds/,
      );
      const defaults = cliWith(limits, "apps", "create", "--json", "--name", "Defaults under low limits", "--redirect-uri", "https://x.example.test/cb");
      assert.equal(defaults.status, 0, defaults.stderr);
      const app = JSON.parse(defaults.stdout) as { access_token_ttl: number; refresh_token_ttl: number };
      assert.deepEqual([app.access_token_ttl, app.refresh_token_ttl], [600, 3600], "the defaults (1 h, 30 days) are cut to the limits");
    });

    it("an http://localhost redirect URI is refused with the loopback IP URI to use instead", () => {
      const result = cli("apps", "create", "--name", "Native", "--redirect-uri", "http://localhost:8080/cb");
      assert.equal(result.status, 2);
      assert.match(result.stderr, /names localhost: use the loopback IP literal, http:\/\/127\.0\.0\.1:8080\/cb \(RFC 8252 §8\.3\)/);
      assert.equal(cli("apps", "create", "--name", "Native", "--redirect-uri", "http://127.0.0.1:8080/cb", "--redirect-uri", "http://[::1]:8080/cb").status, 0);
    });

    it("--no-require-pkce registers a legacy confidential app that may skip PKCE; a public app cannot", async () => {
      const result = cli("apps", "create", "--json", "--name", "Legacy", "--redirect-uri", "https://legacy.example.test/cb", "--no-require-pkce");
      assert.equal(result.status, 0, result.stderr);
      const app = JSON.parse(result.stdout) as { client_id: string; require_pkce: boolean };
      assert.equal(app.require_pkce, false);
      assert.equal((await services.db.app.findUniqueOrThrow({ where: { id: app.client_id } })).requirePkce, false);
      const refused = cli("apps", "create", "--name", "SPA", "--public", "--redirect-uri", "https://spa.example.test/cb", "--no-require-pkce");
      assert.equal(refused.status, 2);
      assert.match(refused.stderr, /a public app cannot opt out of PKCE/);
    });
  });

  describe("apps list", () => {
    it("lists apps as a table and as JSON, never with a secret or a hash", async () => {
      const created = cli("apps", "create", "--json", "--name", "Listed", "--redirect-uri", "https://listed.example.test/cb");
      const app = JSON.parse(created.stdout) as { client_id: string; client_secret: string };
      const hashes = (await services.db.app.findMany()).map((a) => a.secretHash).filter((h): h is string => h !== null);
      assert.ok(hashes.length >= 2);

      const text = cli("apps", "list");
      assert.equal(text.status, 0, text.stderr);
      assert.match(text.stdout, /CLIENT_ID/);
      assert.match(text.stdout, new RegExp(app.client_id));
      assert.match(text.stdout, /Listed/);

      const json = cli("apps", "list", "--json");
      assert.equal(json.status, 0, json.stderr);
      const apps = JSON.parse(json.stdout) as Record<string, unknown>[];
      assert.ok(apps.some((a) => a.client_id === app.client_id && a.name === "Listed"));
      for (const a of apps) {
        assert.equal(a.client_secret, undefined);
        assert.equal(a.secret_hash, undefined);
        assert.equal(a.secretHash, undefined);
      }
      for (const output of [text.stdout, json.stdout]) {
        assert.ok(!output.includes(app.client_secret), "no secret in a listing");
        for (const hash of hashes) assert.ok(!output.includes(hash), "no hash in a listing");
      }
    });
  });
});
