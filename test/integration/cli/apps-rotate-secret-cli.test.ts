/**
 * `authbroker apps rotate-secret`, run as the real CLI against a real
 * database (issue 18, item 4): the new secret printed once, the previous one
 * kept as a hash and accepted by client authentication until the end of the
 * overlap, one previous secret at a time, an audit event without the secret;
 * bad input is one line, exit 2 (3 for an unknown app).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { hashSecret } from "../../../src/crypto/secrets.js";
import { authenticateClient } from "../../../src/oauth/client-auth.js";
import { createTestServices, randomKeyEntry, TEST_REDIS_URL, type TestServices } from "../../support/services.js";

const BIN = fileURLToPath(new URL("../../../bin/authbroker.js", import.meta.url));

describe("apps rotate-secret CLI", () => {
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

  describe("apps rotate-secret", () => {
    function created(): { client_id: string; client_secret: string } {
      const result = cli("apps", "create", "--json", "--name", "Rotated", "--redirect-uri", "https://rotated.example.test/cb");
      assert.equal(result.status, 0, result.stderr);
      return JSON.parse(result.stdout) as { client_id: string; client_secret: string };
    }

    /** Whether the client authenticates with this secret, by the function the back-channel endpoints use (the app read afresh). */
    async function authenticates(clientId: string, secret: string): Promise<boolean> {
      services.clients.invalidate(clientId);
      const form = new Map([
        ["client_id", clientId],
        ["client_secret", secret],
      ]);
      return authenticateClient(services, { headers: {} }, form).then(
        () => true,
        (err: { code?: string }) => {
          assert.equal(err.code, "invalid_client");
          return false;
        },
      );
    }

    it("--json prints the new secret once; the previous one keeps working for a day by default", async () => {
      const app = created();
      const result = cli("apps", "rotate-secret", app.client_id, "--json");
      assert.equal(result.status, 0, result.stderr);
      const rotated = JSON.parse(result.stdout) as { client_id: string; client_secret: string; previous_secret_expires_at: string };
      assert.equal(rotated.client_id, app.client_id);
      assert.match(rotated.client_secret, /^abs_/);
      assert.match(result.stderr, /shown only now/);
      const untilMs = Date.parse(rotated.previous_secret_expires_at) - Date.now();
      assert.ok(untilMs > 86_400_000 - 60_000 && untilMs <= 86_400_000, rotated.previous_secret_expires_at);
      const row = await services.db.app.findUniqueOrThrow({ where: { id: app.client_id } });
      assert.equal(row.secretHash, hashSecret(rotated.client_secret));
      assert.equal(row.previousSecretHash, hashSecret(app.client_secret));
      assert.equal(await authenticates(app.client_id, app.client_secret), true, "the previous secret within the overlap");
      assert.equal(await authenticates(app.client_id, rotated.client_secret), true);
      // The overlap waited out.
      await services.db.app.update({ where: { id: app.client_id }, data: { previousSecretExpiresAt: new Date(Date.now() - 1) } });
      assert.equal(await authenticates(app.client_id, app.client_secret), false, "the previous secret after the overlap");
      assert.equal(await authenticates(app.client_id, rotated.client_secret), true);
      const event = await services.db.auditEvent.findFirstOrThrow({ where: { action: "app.secret_rotated", appId: app.client_id } });
      assert.deepEqual(event.detail, { overlapSeconds: 86_400, previousSecretExpiresAt: rotated.previous_secret_expires_at });
      assert.ok(!JSON.stringify(event.detail).includes(rotated.client_secret));
    });

    it("without --json: the secret, until when the previous one works, and the warning; --overlap 0 ends the previous one now", async () => {
      const app = created();
      const kept = cli("apps", "rotate-secret", app.client_id, "--overlap", "3600");
      assert.equal(kept.status, 0, kept.stderr);
      const second = /client_secret:\s+(\S+)/.exec(kept.stdout)?.[1];
      assert.ok(second, kept.stdout);
      assert.match(kept.stdout, /the previous secret works until \d{4}-\d\d-\d\dT/);
      assert.match(kept.stdout, /shown only now/);
      const ended = cli("apps", "rotate-secret", app.client_id, "--overlap", "0", "--json");
      assert.equal(ended.status, 0, ended.stderr);
      const third = (JSON.parse(ended.stdout) as { client_secret: string; previous_secret_expires_at: null }).client_secret;
      assert.equal((JSON.parse(ended.stdout) as { previous_secret_expires_at: null }).previous_secret_expires_at, null);
      assert.equal(await authenticates(app.client_id, app.client_secret), false, "the first secret ended with the second rotation");
      assert.equal(await authenticates(app.client_id, second), false, "--overlap 0");
      assert.equal(await authenticates(app.client_id, third), true);
      const text = cli("apps", "rotate-secret", app.client_id, "--overlap", "0");
      assert.match(text.stdout, /the previous secret no longer works/);
    });

    it("a second rotation ends the secret that was previous at once, whatever its overlap", async () => {
      const app = created();
      const second = JSON.parse(cli("apps", "rotate-secret", app.client_id, "--json").stdout) as { client_secret: string };
      const third = JSON.parse(cli("apps", "rotate-secret", app.client_id, "--json").stdout) as { client_secret: string };
      assert.equal(await authenticates(app.client_id, app.client_secret), false);
      assert.equal(await authenticates(app.client_id, second.client_secret), true);
      assert.equal(await authenticates(app.client_id, third.client_secret), true);
    });

    /** One app for every refusal (each CLI run costs a process start). */
    let refusedApp: { client_id: string; client_secret: string } | undefined;
    for (const [why, args, exit, message] of [
      ["an unknown app", ["app_nobody"], 3, /not_found: app app_nobody does not exist$/],
      ["a negative overlap", ["APP", "--overlap", "-5"], 2, /--overlap must be a whole number of seconds/],
      ["a fractional overlap", ["APP", "--overlap", "1.5"], 2, /--overlap must be a whole number of seconds/],
      ["a non-numeric overlap", ["APP", "--overlap", "a day"], 2, /--overlap must be a whole number of seconds/],
      ["an overlap over a year", ["APP", "--overlap", "31536001"], 2, /overlap must be a whole number of seconds from 0 to 31536000/],
    ] as const) {
      it(`refuses ${why} with one line, exit ${exit}, and rotates nothing`, async () => {
        refusedApp ??= created();
        const app = refusedApp;
        const result = cli("apps", "rotate-secret", ...args.map((a) => (a === "APP" ? app.client_id : a)));
        assert.equal(result.status, exit, `${result.stdout}\n${result.stderr}`);
        assert.equal(result.stdout, "");
        assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
        assert.match(result.stderr.trim(), message);
        const row = await services.db.app.findUniqueOrThrow({ where: { id: app.client_id } });
        assert.equal(row.secretHash, hashSecret(app.client_secret));
      });
    }

    it("refuses a public client, which has no secret, with one line and exit 2", () => {
      const spa = JSON.parse(cli("apps", "create", "--json", "--public", "--name", "SPA", "--redirect-uri", "https://spa.example.test/cb").stdout) as {
        client_id: string;
      };
      const result = cli("apps", "rotate-secret", spa.client_id);
      assert.equal(result.status, 2);
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
      assert.match(result.stderr, /is a public client: it has no client secret to rotate/);
    });
  });
});
