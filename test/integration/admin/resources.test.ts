/**
 * Protected resources (RFC 8707) as the operator registers them: the admin
 * API (`/admin/v1/resources`) and the CLI (`authbroker resources`), through
 * the same functions, with every refusal in one clear line.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestBroker, type TestBroker } from "../../support/broker.js";
import { randomKeyEntry, TEST_REDIS_URL } from "../../support/services.js";

const ADMIN_TOKEN = "admin-token-for-resources-0123456789abcdef";
const BIN = fileURLToPath(new URL("../../../bin/authbroker.js", import.meta.url));

describe("protected resources: admin API and CLI", () => {
  let broker: TestBroker;
  let appId: string;

  before(async () => {
    broker = await startTestBroker({ env: { BROKER_ADMIN_TOKEN: ADMIN_TOKEN } });
    appId = (await broker.services.clients.create({ name: "MCP server", redirectUris: [], grantTypes: ["client_credentials"], scopes: [] })).client.id;
  });

  after(async () => {
    await broker?.stop();
  });

  const admin = (path: string, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${broker.url}/admin/v1${path}`, {
      method: init.method ?? "GET",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.body ? { "content-type": "application/json" } : {}) },
      body: init.body ? JSON.stringify(init.body) : undefined,
    });

  describe("admin API", () => {
    it("creates, lists and deletes a resource (its URI percent-encoded in the path)", async () => {
      const uri = "https://mcp.example.com/mcp";
      const created = await admin("/resources", { method: "POST", body: { uri, name: "MCP", scopes: ["tools:read", "tools:write"], app_id: appId } });
      assert.equal(created.status, 201);
      const view = (await created.json()) as Record<string, unknown>;
      assert.deepEqual({ ...view, created_at: undefined }, { uri, name: "MCP", scopes: ["tools:read", "tools:write"], app_id: appId, created_at: undefined });
      const listed = (await (await admin("/resources")).json()) as { data: { uri: string }[] };
      assert.deepEqual(
        listed.data.map((r) => r.uri),
        [uri],
        "the built-in proxy resource is not a row",
      );
      const again = await admin("/resources", { method: "POST", body: { uri, scopes: ["x"] } });
      assert.equal(again.status, 409);
      const deleted = await admin(`/resources/${encodeURIComponent(uri)}`, { method: "DELETE" });
      assert.equal(deleted.status, 200);
      assert.equal(((await deleted.json()) as { uri: string }).uri, uri);
      const gone = await admin(`/resources/${encodeURIComponent(uri)}`, { method: "DELETE" });
      assert.equal(gone.status, 404);
      const audit = await broker.services.db.auditEvent.findMany({ where: { action: { startsWith: "resource." } }, orderBy: { at: "asc" } });
      assert.deepEqual(
        audit.map((e) => e.action),
        ["resource.created", "resource.deleted"],
      );
    });

    for (const [what, body, message] of [
      ["a relative URI", { uri: "/mcp", scopes: ["x"] }, /not an absolute URI/],
      ["a fragment", { uri: "https://mcp.example.com/#a", scopes: ["x"] }, /fragment/],
      ["http off loopback", { uri: "http://mcp.example.com/", scopes: ["x"] }, /must use https/],
      ["no scope", { uri: "https://mcp.example.com/a", scopes: [] }, /scopes/],
      ["an identity scope", { uri: "https://mcp.example.com/a", scopes: ["openid"] }, /identity scope/],
      ["a broker scope", { uri: "https://mcp.example.com/a", scopes: ["proxy"] }, /broker scope/],
      ["an unknown app", { uri: "https://mcp.example.com/a", scopes: ["x"], app_id: "app_nope" }, /no app app_nope/],
    ] as const) {
      it(`refuses ${what} with validation_failed`, async () => {
        const res = await admin("/resources", { method: "POST", body });
        assert.equal(res.status, 400);
        const error = (await res.json()) as { error: string; error_description: string };
        assert.equal(error.error, "validation_failed");
        assert.match(error.error_description, message);
      });
    }

    it("refuses the broker's own URIs: the issuer and the built-in proxy", async () => {
      for (const uri of [broker.services.config.issuer, `${broker.services.config.issuer}/v1/proxy`]) {
        const res = await admin("/resources", { method: "POST", body: { uri, scopes: ["x"] } });
        assert.equal(res.status, 400, uri);
        assert.match(((await res.json()) as { error_description: string }).error_description, /the broker's own/);
      }
    });

    it("accepts http on loopback hosts (a resource server under development)", async () => {
      for (const uri of ["http://127.0.0.1:8080/mcp", "http://[::1]:8080/mcp", "http://localhost:8080/mcp"])
        assert.equal((await admin("/resources", { method: "POST", body: { uri, scopes: ["x"] } })).status, 201, uri);
    });
  });

  describe("authbroker resources", () => {
    function cli(...args: string[]) {
      const cwd = mkdtempSync(join(tmpdir(), "authbroker-resources-"));
      mkdirSync(join(cwd, "connectors"));
      try {
        const env = {
          PATH: process.env.PATH ?? "",
          DATABASE_URL: broker.services.database.url,
          REDIS_URL: TEST_REDIS_URL,
          BROKER_ENCRYPTION_KEYS: randomKeyEntry(),
        };
        return spawnSync(process.execPath, [BIN, ...args], { cwd, env, encoding: "utf8", timeout: 60_000 });
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    }

    it("creates (scopes space- or comma-separated), lists and deletes", () => {
      const uri = "https://cli.example.com/mcp";
      const created = cli("resources", "create", "--uri", uri, "--scopes", "tools:read,tools:write files:read", "--name", "CLI MCP", "--app", appId, "--json");
      assert.equal(created.status, 0, created.stderr);
      const view = JSON.parse(created.stdout) as { uri: string; scopes: string[]; app_id: string; name: string };
      assert.deepEqual(view.scopes, ["tools:read", "tools:write", "files:read"]);
      assert.equal(view.app_id, appId);
      assert.equal(view.name, "CLI MCP");
      const listed = cli("resources", "list", "--json");
      assert.equal(listed.status, 0, listed.stderr);
      assert.ok((JSON.parse(listed.stdout) as { uri: string }[]).some((r) => r.uri === uri));
      const text = cli("resources", "list");
      assert.match(text.stdout, /^URI\s+NAME\s+SCOPES/);
      const deleted = cli("resources", "delete", uri);
      assert.equal(deleted.status, 0, deleted.stderr);
      assert.equal(deleted.stdout.trim(), `resource ${uri} deleted`);
    });

    it("says what is wrong in one line, with a usage or not-found exit code", () => {
      const fragment = cli("resources", "create", "--uri", "https://cli.example.com/#x", "--scopes", "a");
      assert.equal(fragment.status, 2);
      assert.equal(fragment.stderr.trim().split("\n").length, 1);
      assert.match(fragment.stderr, /must not contain a fragment/);
      const noScopes = cli("resources", "create", "--uri", "https://cli.example.com/", "--scopes", " , ");
      assert.equal(noScopes.status, 2);
      assert.match(noScopes.stderr, /--scopes needs at least one scope/);
      const unknownApp = cli("resources", "create", "--uri", "https://cli.example.com/", "--scopes", "a", "--app", "app_nope");
      assert.equal(unknownApp.status, 2);
      assert.match(unknownApp.stderr, /no app app_nope/);
      const unknown = cli("resources", "delete", "https://nothing.example.com/");
      assert.equal(unknown.status, 3);
      assert.match(unknown.stderr, /is not registered/);
    });
  });
});
