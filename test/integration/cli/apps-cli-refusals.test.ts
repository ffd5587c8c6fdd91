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

describe("apps CLI: refusals (apart from apps-cli.test.ts: each case is a CLI run, and one file of them all outlasted the test timeout on a loaded machine)", () => {
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
    for (const [why, args] of [
      ["a redirect URI with http on a public host", ["--name", "X", "--redirect-uri", "http://example.test/cb"]],
      ["no redirect URI for the code flow", ["--name", "X"]],
      [
        "a public app with client_credentials",
        ["--name", "X", "--public", "--redirect-uri", "https://x.example.test/cb", "--grant-types", "authorization_code,client_credentials"],
      ],
      ["an unknown grant type", ["--name", "X", "--redirect-uri", "https://x.example.test/cb", "--grant-types", "password"]],
      ["an unknown scope", ["--name", "X", "--redirect-uri", "https://x.example.test/cb", "--scopes", "proxy,superuser"]],
      ["a lifetime that is not a number", ["--name", "X", "--redirect-uri", "https://x.example.test/cb", "--access-token-ttl", "1h"]],
      ["a lifetime out of range", ["--name", "X", "--redirect-uri", "https://x.example.test/cb", "--access-token-ttl", "5"]],
      ["an unknown authentication method", ["--name", "X", "--redirect-uri", "https://x.example.test/cb", "--token-endpoint-auth-method", "tls_client_auth"]],
      [
        "an access-token lifetime over a day (ACCESS_TOKEN_MAX_TTL_SECONDS)",
        ["--name", "X", "--redirect-uri", "https://x.example.test/cb", "--access-token-ttl", "86401"],
      ],
      [
        "a refresh-token lifetime over 90 days (REFRESH_TOKEN_MAX_TTL_SECONDS)",
        ["--name", "X", "--redirect-uri", "https://x.example.test/cb", "--refresh-token-ttl", "7776001"],
      ],
      ["an http://localhost redirect URI (RFC 8252 §8.3)", ["--name", "X", "--redirect-uri", "http://localhost:8080/cb"]],
      ["a public app opting out of PKCE", ["--name", "X", "--public", "--redirect-uri", "https://x.example.test/cb", "--no-require-pkce"]],
    ] as const) {
      it(`refuses ${why} with one line and exit code 2`, async () => {
        const before = await services.db.app.count();
        const result = cli("apps", "create", ...args);
        assert.equal(result.status, 2, `${result.stdout}\n${result.stderr}`);
        assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
        assert.equal(result.stdout, "");
        assert.equal(await services.db.app.count(), before, "nothing was created");
      });
    }
  });

  describe("the limits of a registration", () => {});
});
