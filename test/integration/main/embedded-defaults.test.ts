/**
 * `authbroker dev` (what `npm start` runs) on a machine with Node.js and
 * nothing else: run in a network namespace of its own (`unshare -n`, only
 * loopback up), where no PostgreSQL and no Redis answer, it starts a real
 * PostgreSQL from npm and redis-server from the PATH, migrates, answers
 * /readyz 200, and stops both when it stops. An explicit URL always wins,
 * NODE_ENV=production never embeds, and a machine without redis-server gets
 * one line that says how to get it.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../../bin/authbroker.js", import.meta.url));
const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const KEYS = `k1:${Buffer.alloc(32, 7).toString("base64")}`;

const canUnshare = userInfo().uid === 0 && spawnSync("unshare", ["-n", "ip", "link", "set", "lo", "up"]).status === 0;
const skip = canUnshare ? false : "needs root, unshare and ip (a network namespace of its own)";

/**
 * Inside the namespace: start `authbroker dev` with exactly `env`, wait up to
 * 120 s for /readyz, SIGTERM it, and report what happened as JSON, including
 * whether anything still answers on PostgreSQL's and Redis's ports.
 */
const DRIVER = `
import { spawn } from "node:child_process";
import { connect } from "node:net";
const [bin, port, env] = [process.argv[2], process.argv[3], JSON.parse(process.argv[4])];
const answers = (p) => new Promise((resolve) => {
  const s = connect({ port: p, host: "127.0.0.1" });
  s.once("connect", () => { s.destroy(); resolve(true); });
  s.once("error", () => resolve(false));
});
const child = spawn(process.execPath, [bin, "dev"], { env, stdio: ["ignore", "pipe", "pipe"] });
let output = "";
child.stdout.on("data", (c) => (output += c));
child.stderr.on("data", (c) => (output += c));
const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
let readyz = 0, gone = false;
exited.then(() => (gone = true));
const deadline = Date.now() + 120_000;
while (!gone && Date.now() < deadline) {
  readyz = await fetch("http://127.0.0.1:" + port + "/readyz").then((r) => r.status, () => 0);
  if (readyz === 200) break;
  await new Promise((r) => setTimeout(r, 250));
}
if (!gone) child.kill("SIGTERM");
const exitCode = await exited;
console.log(JSON.stringify({ readyz, exitCode, output, postgresAnswers: await answers(5432), redisAnswers: await answers(6379) }));
`;

interface Outcome {
  readyz: number;
  exitCode: number | null;
  output: string;
  postgresAnswers: boolean;
  redisAnswers: boolean;
}

let dir: string;

/** Runs `authbroker dev` in a fresh network namespace, from `dir`, with exactly `env` (plus the keyring). */
function devInNamespace(env: Record<string, string>, cwd = dir): Outcome {
  const driver = join(cwd, "driver.mjs");
  writeFileSync(driver, DRIVER);
  const fullEnv = { PATH: process.env.PATH ?? "", BROKER_ENCRYPTION_KEYS: KEYS, CONNECTORS_DIR: join(REPO, "connectors"), PORT: "3999", ...env };
  const result = spawnSync(
    "unshare",
    ["-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', process.execPath, driver, BIN, fullEnv.PORT, JSON.stringify(fullEnv)],
    { cwd, encoding: "utf8", timeout: 180_000 },
  );
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout.trim().split("\n").at(-1)!) as Outcome;
}

describe("authbroker dev: embedded defaults for development", { skip }, () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "authbroker-dev-"));
    // As root, PostgreSQL runs as the system user postgres, which must reach its data directory.
    chmodSync(dir, 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("with no server reachable, embeds PostgreSQL and Redis, answers /readyz 200, and stops both on SIGTERM", () => {
    const outcome = devInNamespace({});
    assert.equal(outcome.readyz, 200, outcome.output);
    assert.match(outcome.output, /development defaults: embedded PostgreSQL and Redis/);
    assert.match(outcome.output, /"msg":"database migrated"/);
    assert.equal(outcome.exitCode, 0, outcome.output);
    assert.equal(outcome.postgresAnswers, false, "the embedded PostgreSQL stopped");
    assert.equal(outcome.redisAnswers, false, "the embedded Redis stopped");
    assert.ok(existsSync(join(dir, ".authbroker", "postgres", "PG_VERSION")), "its data stays under .authbroker/ of the working directory");
    assert.ok(!existsSync(join(dir, ".authbroker", "postgres", "postmaster.pid")), "and it shut down cleanly");
  });

  it("starts again on the data it kept", () => {
    const outcome = devInNamespace({});
    assert.equal(outcome.readyz, 200, outcome.output);
    assert.match(outcome.output, /"created":false/);
    assert.equal(outcome.exitCode, 0, outcome.output);
  });

  it("never embeds with NODE_ENV=production: PostgreSQL unreachable, one line", () => {
    const outcome = devInNamespace({ NODE_ENV: "production" });
    assert.equal(outcome.exitCode, 1);
    assert.doesNotMatch(outcome.output, /embedded/);
    assert.match(outcome.output, /^authbroker: PostgreSQL unreachable at postgresql:\/\/127\.0\.0\.1:5432\//m);
  });

  it("an explicit DATABASE_URL wins: nothing is embedded for it", () => {
    const outcome = devInNamespace({ DATABASE_URL: "postgresql://postgres:postgres@127.0.0.1:5433/authbroker" });
    assert.equal(outcome.exitCode, 1);
    assert.match(outcome.output, /embedded Redis/, "Redis, unset, is still embedded");
    assert.doesNotMatch(outcome.output, /embedded PostgreSQL/);
    assert.match(outcome.output, /^authbroker: PostgreSQL unreachable at postgresql:\/\/127\.0\.0\.1:5433\//m);
    assert.equal(outcome.redisAnswers, false, "the embedded Redis stopped after the failed start");
  });

  it("when the embedded PostgreSQL cannot start, says why in one line and leaves nothing running", () => {
    const elsewhere = mkdtempSync(join(tmpdir(), "authbroker-dev-broken-"));
    try {
      chmodSync(elsewhere, 0o755);
      // Where its data directory should be, a file.
      mkdirSync(join(elsewhere, ".authbroker"));
      writeFileSync(join(elsewhere, ".authbroker", "postgres"), "");
      const outcome = devInNamespace({}, elsewhere);
      assert.equal(outcome.exitCode, 1);
      assert.match(outcome.output, /^authbroker: embedded PostgreSQL did not start in \.authbroker\/postgres: .+$/m);
      assert.doesNotMatch(outcome.output, /development defaults: embedded/);
      assert.equal(outcome.postgresAnswers, false);
      assert.equal(outcome.redisAnswers, false, "Redis was not started, or was stopped again");
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it("without redis-server on the PATH, says in one line how to get it, and starts nothing", () => {
    const outcome = devInNamespace({ PATH: "/usr/sbin:/sbin", DATABASE_URL: "postgresql://postgres:postgres@127.0.0.1:5433/authbroker" });
    assert.equal(outcome.exitCode, 1);
    const lines = outcome.output.trim().split("\n");
    assert.deepEqual(lines, [
      "authbroker: no Redis answers on 127.0.0.1:6379 and redis-server is not on the PATH: install redis-server (apt-get install redis-server, dnf install redis, brew install redis) or run `docker compose up -d redis`, or set REDIS_URL",
    ]);
  });
});
