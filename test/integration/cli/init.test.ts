/**
 * `authbroker init`, the first step of `npm start` on a fresh checkout: it
 * writes a private `.env` with a valid keyring, does nothing the second time
 * with --if-missing, and never overwrites keys without --force.
 */
import { describe, it, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";
import { loadConfig } from "../../../src/config.js";

const BIN = fileURLToPath(new URL("../../../bin/authbroker.js", import.meta.url));

let dir: string;
const envFile = () => join(dir, ".env");

/** Runs `authbroker <args>` in the scratch directory with exactly this environment (no BROKER_* inherited). */
function run(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8", timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const modeOf = (file: string) => statSync(file).mode & 0o777;

describe("authbroker init", () => {
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "authbroker-init-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("--if-missing on a fresh checkout writes .env, private (0600), with a keyring the broker accepts", () => {
    const { code, stdout, stderr } = run(["init", "--if-missing"]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^wrote \.env \(encryption key "k\d{8}_[0-9a-f]{6}", admin token\)\n$/);
    assert.equal(modeOf(envFile()), 0o600);

    const written = parseEnv(readFileSync(envFile(), "utf8"));
    const config = loadConfig(written);
    assert.equal(config.encryptionKeys.length, 1);
    assert.equal(config.encryptionKeys[0]!.key.length, 32);
    assert.ok(config.adminToken && config.adminToken.length >= 32);
  });

  it("--if-missing is a no-op the second time: the keys are kept", () => {
    assert.equal(run(["init", "--if-missing"]).code, 0);
    const before = readFileSync(envFile(), "utf8");
    const second = run(["init", "--if-missing"]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, "BROKER_ENCRYPTION_KEYS is set in .env, nothing to do\n");
    assert.equal(readFileSync(envFile(), "utf8"), before);
  });

  it("--if-missing writes nothing when BROKER_ENCRYPTION_KEYS comes from the environment (containers)", () => {
    const { code, stdout } = run(["init", "--if-missing", "--json"], { BROKER_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString("base64")}` });
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(stdout), { written: false, file: ".env" });
    assert.equal(existsSync(envFile()), false);
  });

  it("--if-missing adds a key to a hand-written .env that has none, keeping its settings", () => {
    writeFileSync(envFile(), "PORT=4000\nBROKER_ADMIN_TOKEN=an-admin-token-that-is-long-enough-000\n", { mode: 0o644 });
    const { code, stderr } = run(["init", "--if-missing"]);
    assert.equal(code, 0, stderr);
    const written = parseEnv(readFileSync(envFile(), "utf8"));
    assert.equal(written.PORT, "4000");
    assert.equal(written.BROKER_ADMIN_TOKEN, "an-admin-token-that-is-long-enough-000");
    assert.equal(loadConfig(written).encryptionKeys.length, 1);
    assert.equal(modeOf(envFile()), 0o600);
  });

  it("without --force refuses to overwrite an existing .env, in one line, exit code 2", () => {
    assert.equal(run(["init"]).code, 0);
    const before = readFileSync(envFile(), "utf8");
    const { code, stdout, stderr } = run(["init"]);
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.equal(stderr, "authbroker: .env exists; pass --force to overwrite it (its encryption keys would be lost)\n");
    assert.equal(readFileSync(envFile(), "utf8"), before);
  });

  it("--force writes a new key, and the file ends up private even if it was not", () => {
    assert.equal(run(["init"]).code, 0);
    const before = parseEnv(readFileSync(envFile(), "utf8")).BROKER_ENCRYPTION_KEYS;
    chmodSync(envFile(), 0o644);
    const { code, stdout } = run(["init", "--force", "--json"]);
    assert.equal(code, 0);
    const result = JSON.parse(stdout) as { written: boolean; file: string; kid: string };
    assert.equal(result.written, true);
    const after = parseEnv(readFileSync(envFile(), "utf8")).BROKER_ENCRYPTION_KEYS;
    assert.notEqual(after, before);
    assert.ok(after?.startsWith(`${result.kid}:`));
    // The same day, yet another name: data sealed under the first key names it when it cannot be opened, instead of failing authentication.
    assert.notEqual(result.kid, before?.split(":")[0]);
    assert.equal(modeOf(envFile()), 0o600);
  });

  it("the .env it writes is what later commands load (bin/authbroker.js reads ./.env)", () => {
    assert.equal(run(["init", "--if-missing"]).code, 0);
    // A configuration error other than the key shows the key itself was found and accepted.
    const { code, stderr } = run(["serve"], { PORT: "not-a-port" });
    assert.equal(code, 2);
    assert.equal(stderr, "authbroker: configuration error: PORT: must be an integer\n");
  });
});
