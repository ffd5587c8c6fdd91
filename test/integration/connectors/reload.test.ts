/**
 * Connectors change without a restart: a running `serve` process (the real
 * binary) picks up a changed, added or removed file of CONNECTORS_DIR, and
 * reloads on SIGHUP and on `authbroker connectors reload` (through Redis);
 * each file is checked before it replaces its previous version, and an
 * invalid one leaves the previous version serving and says why in one log
 * line. The admin API validates a connector document and lists each file's
 * source and status.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestBroker, type TestBroker } from "../../support/broker.js";
import { brokerProcessEnv, startBrokerProcess, type BrokerProcess } from "../../support/broker-process.js";

const BIN = fileURLToPath(new URL("../../../bin/authbroker.js", import.meta.url));
const ADMIN_TOKEN = "admin-token-for-reload-tests-0123456789";

function acme(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "acme",
    name,
    auth: { kind: "client_credentials", tokenUrl: "http://127.0.0.1:9/token", clientId: "acme-client", clientSecret: "acme-secret-0123456789" },
    ...extra,
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface ConnectorRow {
  id: string;
  name: string;
  source: string;
  loaded_at: string | null;
}
interface FileRow {
  file: string;
  connector: string | null;
  status: string;
  problems: string[];
  kept_previous: boolean;
}

describe("a running broker reloads its connector files", () => {
  let broker: TestBroker;
  let serve: BrokerProcess;
  let url: string;
  let dir: string;

  const admin = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${url}/admin/v1${path}`, {
      ...init,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.body ? { "content-type": "application/json" } : {}) },
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const connectors = async () => (await admin<{ data: ConnectorRow[] }>("/connectors")).body.data;
  const files = async () => (await admin<{ data: FileRow[] }>("/connector-files")).body.data;
  const write = (file: string, content: unknown) => writeFileSync(join(dir, file), typeof content === "string" ? content : JSON.stringify(content));
  const reloadReasons = () =>
    serve
      .logLines()
      .filter((l) => l.msg === "reloading connectors")
      .map((l) => String(l.reason));

  before(async () => {
    // The in-process broker makes the database; the process under test is the real binary on it.
    broker = await startTestBroker({ connectors: { "acme.json": acme("Acme v1") } });
    dir = broker.services.config.connectorsDir;
    serve = await startBrokerProcess("serve", brokerProcessEnv(broker.services, { BROKER_ADMIN_TOKEN: ADMIN_TOKEN }));
    const listening = serve.logLines().find((l) => l.msg === "authbroker listening");
    url = String(listening?.url);
  });

  after(async () => {
    await serve?.stop();
    await broker?.stop();
  });

  it("serves a changed file without a restart, with its source and load time", async () => {
    const before = (await connectors()).find((c) => c.id === "acme")!;
    assert.equal(before.name, "Acme v1");
    assert.match(before.source, /acme\.json$/);
    write("acme.json", acme("Acme v2"));
    const changed = await until("the new name", async () => (await connectors()).find((c) => c.id === "acme" && c.name === "Acme v2"));
    assert.ok(changed.loaded_at! > before.loaded_at!, "loaded again");
    assert.ok(reloadReasons().includes("a connector file changed"));
  });

  it("an invalid file leaves its previous version serving, and one log line says why", async () => {
    write("acme.json", acme("Acme broken", { auth: { kind: "oauth3", tokenUrl: "http://127.0.0.1:9/token" } }));
    await serve.waitForLog(/^connector file rejected; its previous version keeps serving$/);
    const line = serve.logLines().find((l) => l.msg === "connector file rejected; its previous version keeps serving")!;
    assert.match(String(line.file), /acme\.json$/);
    assert.match(JSON.stringify(line.problems), /auth\.kind: must be one of/);
    assert.equal(line.keptPrevious, true);
    assert.equal((await connectors()).find((c) => c.id === "acme")?.name, "Acme v2", "the last valid version still serves");
    const status = (await files()).find((f) => f.file.endsWith("acme.json"))!;
    assert.deepEqual([status.status, status.connector, status.kept_previous], ["rejected", "acme", true]);
    assert.match(status.problems.join("\n"), /auth\.kind/);
    assert.ok(!serve.output().includes("acme-secret-0123456789"), "no secret in the log");
  });

  it("SIGHUP reloads: the repaired file serves again", async () => {
    write("acme.json", acme("Acme v3"));
    serve.child.kill("SIGHUP");
    await until("a reload for SIGHUP", async () => (reloadReasons().includes("SIGHUP") ? true : undefined));
    await until("the repaired file", async () => (await connectors()).find((c) => c.name === "Acme v3"));
    assert.equal((await files()).find((f) => f.file.endsWith("acme.json"))?.status, "loaded");
  });

  it("`authbroker connectors reload` asks every running process through Redis", async () => {
    const result = spawnSync(process.execPath, [BIN, "connectors", "reload", "--json"], {
      env: { PATH: process.env.PATH ?? "", CONNECTORS_DIR: dir, REDIS_URL: broker.services.config.redisUrl },
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(result.status, 0, result.stderr);
    const printed = JSON.parse(result.stdout) as { notified: number; valid: string[] };
    assert.ok(printed.notified >= 1, "at least the serve process heard it");
    assert.deepEqual(printed.valid, ["acme"]);
    await until("a reload asked through Redis", async () => (reloadReasons().includes("asked by authbroker connectors reload") ? true : undefined));
  });

  it("`authbroker connectors reload` without a reachable Redis fails with one line", () => {
    const result = spawnSync(process.execPath, [BIN, "connectors", "reload"], {
      env: { PATH: process.env.PATH ?? "", CONNECTORS_DIR: dir, REDIS_URL: "redis://127.0.0.1:1" },
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^authbroker: cannot reach Redis to ask the broker processes \(.*\)\n$/);
  });

  it("a new file is served, a second file with a taken id is rejected, a deleted file's connector goes", async () => {
    write("beta.json", { ...acme("Beta"), id: "beta" });
    await until("beta", async () => (await connectors()).find((c) => c.id === "beta"));
    write("copy.json", acme("Acme copy"));
    await until("the copy rejected", async () => (await files()).find((f) => f.file.endsWith("copy.json") && f.status === "rejected"));
    const copy = (await files()).find((f) => f.file.endsWith("copy.json"))!;
    assert.match(copy.problems.join("\n"), /"acme" is already used by/);
    assert.equal(copy.kept_previous, false);
    assert.equal((await connectors()).find((c) => c.id === "acme")?.name, "Acme v3");
    rmSync(join(dir, "copy.json"));
    rmSync(join(dir, "beta.json"));
    await until("beta gone", async () => ((await connectors()).some((c) => c.id === "beta") ? undefined : true));
    await serve.waitForLog(/^connector file removed; its connector is no longer served$/);
  });

  it("POST /admin/v1/connectors/reload reloads this process and tells how many listen", async () => {
    const { status, body } = await admin<{ unchanged: number; processes_notified: number }>("/connectors/reload", { method: "POST" });
    assert.equal(status, 200);
    assert.equal(body.unchanged, 1);
    assert.ok(body.processes_notified >= 1);
  });

  describe("POST /admin/v1/connectors/validate", () => {
    const validate = (body: unknown) =>
      admin<{ valid: boolean; connector: { id: string; kind: string; replaces: boolean } | null; errors: { field: string; problem: string }[] }>(
        "/connectors/validate",
        { method: "POST", body: JSON.stringify(body) },
      );

    it("a valid YAML document: its id and kind, and whether it would replace a served connector", async () => {
      const yaml = "id: acme\nname: Acme\nauth:\n  kind: client_credentials\n  tokenUrl: https://acme.example/token\n";
      const { status, body } = await validate({ document: yaml });
      assert.equal(status, 200);
      assert.deepEqual([body.valid, body.connector?.id, body.connector?.kind, body.connector?.replaces], [true, "acme", "client_credentials", true]);
      assert.deepEqual(body.errors, []);
    });

    it("an invalid document (a JSON object here): every problem, by field, and nothing loaded", async () => {
      const { status, body } = await validate({ document: { id: "Bad Id", name: "x", auth: { kind: "oauth2", tokenUrl: "ftp://x" } } });
      assert.equal(status, 200);
      assert.equal(body.valid, false);
      assert.equal(body.connector, null);
      const fields = body.errors.map((e) => e.field);
      assert.ok(fields.includes("id") && fields.includes("auth.tokenUrl") && fields.includes("auth.authorizationUrl"), fields.join(", "));
      assert.ok(!(await connectors()).some((c) => c.id === "Bad Id"));
    });

    it("broken YAML says where; a body without a document is a validation error", async () => {
      const { body } = await validate({ document: "id: [unclosed\n" });
      assert.equal(body.valid, false);
      assert.match(body.errors[0]!.problem, /YAML syntax error/);
      const missing = await validate({ format: "yaml" });
      assert.equal(missing.status, 400);
      assert.equal((missing.body as unknown as { error: string }).error, "validation_failed");
    });
  });
});
