/**
 * `authbroker keys rotate`, run as the real CLI against a real database:
 * every sealed column moves to the current key, so old keys can be removed,
 * and a new signing key is made while the previous public key stays published.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../../src/config.js";
import { Keyring, SealError } from "../../../src/crypto/keyring.js";
import { SEALED_COLUMNS, sealedField, type SealedColumn } from "../../../src/crypto/sealed-fields.js";
import { SigningKeys } from "../../../src/crypto/signing-keys.js";
import { createDb, type Db } from "../../../src/db.js";
import { createTestServices, randomKeyEntry, TEST_REDIS_URL, type TestServices } from "../../support/services.js";

const BIN = fileURLToPath(new URL("../../../bin/authbroker.js", import.meta.url));

async function keyringOf(entries: string): Promise<Keyring> {
  return Keyring.create(loadConfig({ BROKER_ENCRYPTION_KEYS: entries }).encryptionKeys);
}

/** Runs the CLI in an empty directory (no .env) with exactly this environment. */
function runCli(args: string[], env: Record<string, string>) {
  const cwd = mkdtempSync(join(tmpdir(), "authbroker-cli-"));
  try {
    const result = spawnSync(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8", timeout: 60_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

interface SealedValue {
  column: SealedColumn;
  rowId: string;
  field: string;
  plaintext: string;
}

/** Reads one sealed column of one row (raw SQL, like the rotation itself). */
async function readSealed(db: Db, value: SealedValue): Promise<string> {
  const table = value.field.split(".")[0]!;
  const [row] = await db.$queryRawUnsafe<{ sealed: string }[]>(
    `SELECT "${value.column.column}" AS sealed FROM "${table}" WHERE "${value.column.idColumn}" = $1`,
    value.rowId,
  );
  assert.ok(row, `row ${value.rowId} of ${table} exists`);
  return row.sealed;
}

describe("keys rotate", () => {
  const oldEntry = randomKeyEntry("old_1");
  // An underscore is a LIKE wildcard: "new_1" must not be taken to match values under "old_1" or "newx1".
  const newEntry = randomKeyEntry("new_1");
  const decoyEntry = randomKeyEntry("newx1");
  let services: TestServices;
  let oldKeyring: Keyring;
  let firstSigningKid: string;
  const values: SealedValue[] = [];
  let cliEnv: Record<string, string>;

  before(async () => {
    services = await createTestServices({ BROKER_ENCRYPTION_KEYS: oldEntry });
    oldKeyring = services.keyring;
    const decoy = await keyringOf(decoyEntry);
    const { db } = services;
    const seal = (keyring: Keyring, column: SealedColumn, rowId: string) => {
      const field = sealedField(column.model, column.column);
      const plaintext = `plain ${field} ${rowId} ${Math.random()}`;
      values.push({ column, rowId, field, plaintext });
      return keyring.seal(plaintext, { rowId, field });
    };
    const col = (model: SealedColumn["model"], column: string) => SEALED_COLUMNS.find((c) => c.model === model && c.column === column)!;

    // Rows of every model that has sealed columns, sealed under the old key
    // (and, for one app, under a decoy key whose id the current one's LIKE pattern would match).
    for (const [id, keyring] of [
      ["app_rot_1", oldKeyring],
      ["app_rot_2", oldKeyring],
      ["app_rot_3", decoy],
    ] as const) {
      await db.app.create({
        data: {
          id,
          name: id,
          tokenEndpointAuthMethod: "client_secret_basic",
          redirectUris: ["http://127.0.0.1/cb"],
          grantTypes: ["authorization_code"],
          responseTypes: ["code"],
          scopes: ["proxy"],
          sealedWebhookSecret: seal(keyring, col("app", "sealedWebhookSecret"), id),
        },
      });
    }
    await db.connectorCredential.create({
      data: {
        id: "cc_rot_1",
        connectorId: "acme",
        clientId: "acme-client",
        sealedClientSecret: seal(oldKeyring, col("connectorCredential", "sealedClientSecret"), "cc_rot_1"),
        sealedPrivateJwk: seal(oldKeyring, col("connectorCredential", "sealedPrivateJwk"), "cc_rot_1"),
      },
    });
    await db.account.create({ data: { id: "acct_rot_1", appId: "app_rot_1", connectorId: "acme", upstreamSubject: "user-1" } });
    await db.credential.create({
      data: {
        accountId: "acct_rot_1",
        tokenType: "Bearer",
        sealedAccessToken: seal(oldKeyring, col("credential", "sealedAccessToken"), "acct_rot_1"),
        sealedRefreshToken: seal(oldKeyring, col("credential", "sealedRefreshToken"), "acct_rot_1"),
        sealedIdToken: seal(oldKeyring, col("credential", "sealedIdToken"), "acct_rot_1"),
        sealedFields: seal(oldKeyring, col("credential", "sealedFields"), "acct_rot_1"),
      },
    });
    // The signing key's private JWK is sealed too (made by the broker, not by this test).
    await services.signingKeys.ensureCurrent();
    firstSigningKid = (await services.signingKeys.current()).kid;
    const signingColumn = col("signingKey", "sealedPrivateJwk");
    values.push({ column: signingColumn, rowId: firstSigningKid, field: sealedField("signingKey", "sealedPrivateJwk"), plaintext: "" });

    cliEnv = {
      DATABASE_URL: services.database.url,
      REDIS_URL: TEST_REDIS_URL,
      BROKER_ENCRYPTION_KEYS: `${newEntry},${oldEntry},${decoyEntry}`,
      LOG_LEVEL: "warn",
    };
  });
  after(() => services.teardown());

  it("has a sealed value under an old key in every column listed in src/crypto/sealed-fields.ts", () => {
    for (const column of SEALED_COLUMNS) {
      assert.ok(
        values.some((v) => v.column === column),
        `no row seals ${sealedField(column.model, column.column)}: insert one in this test so rotation of the new column is checked`,
      );
    }
  });

  it("re-seals every sealed column under the first key of BROKER_ENCRYPTION_KEYS", async () => {
    const result = runCli(["keys", "rotate", "--json"], cliEnv);
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as {
      currentKid: string;
      resealed: number;
      byColumn: Record<string, number>;
      signingKid: string;
      previousSigningKid: string;
    };
    assert.equal(report.currentKid, "new_1");
    assert.equal(report.resealed, values.length);
    for (const column of SEALED_COLUMNS) {
      const field = sealedField(column.model, column.column);
      assert.equal(report.byColumn[field], values.filter((v) => v.field === field).length, field);
    }
    for (const value of values) assert.equal(Keyring.kidOf(await readSealed(services.db, value)), "new_1", `${value.field} of ${value.rowId}`);
  });

  it("after which a keyring with only the new key opens everything", async () => {
    const onlyNew = await keyringOf(newEntry);
    for (const value of values) {
      const opened = onlyNew.open(await readSealed(services.db, value), { rowId: value.rowId, field: value.field });
      if (value.plaintext) assert.equal(opened, value.plaintext, `${value.field} of ${value.rowId}`);
      else assert.equal((JSON.parse(opened) as { kid: string }).kid, value.rowId);
    }
    // And the broker signs with only the new key configured.
    const db = createDb(services.database.url, { max: 2 });
    try {
      const signing = new SigningKeys(db, onlyNew);
      assert.ok((await signing.current()).privateKey);
    } finally {
      await db.$disconnect();
    }
  });

  it("and the old key alone no longer opens anything", async () => {
    const value = values[0]!;
    const sealed = await readSealed(services.db, value);
    assert.throws(
      () => oldKeyring.open(sealed, { rowId: value.rowId, field: value.field }),
      (err: unknown) => err instanceof SealError && /uses key "new_1", which is not in BROKER_ENCRYPTION_KEYS/.test(err.message),
    );
  });

  it("creates a new signing key and keeps the previous public key in the JWKS while it is `previous`", async () => {
    const rows = await services.db.signingKey.findMany({ orderBy: { createdAt: "asc" } });
    assert.equal(rows.length, 2);
    const [previous, current] = rows;
    assert.equal(previous!.kid, firstSigningKid);
    assert.equal(previous!.status, "previous");
    assert.equal(current!.status, "current");
    // Published at least as long as the longest token it may have signed (default 3600 s).
    assert.ok(previous!.publishUntil && previous!.publishUntil.getTime() >= Date.now() + 3_590_000, String(previous!.publishUntil));

    const signing = new SigningKeys(services.db, await keyringOf(newEntry));
    assert.equal((await signing.current()).kid, current!.kid);
    const jwks = await signing.jwks();
    assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), [previous!.kid, current!.kid].sort());
    for (const key of jwks.keys) {
      assert.equal(key.d, undefined, "the JWKS carries no private part");
      assert.equal(key.alg, "ES256");
    }
    assert.ok(await signing.publicKey(previous!.kid), "tokens signed by the previous key still verify");

    // Once its tokens have expired it is retired and leaves the JWKS.
    assert.equal(await signing.retireExpired(new Date(previous!.publishUntil!.getTime() + 1)), 1);
    assert.deepEqual(
      (await signing.jwks()).keys.map((k) => k.kid),
      [current!.kid],
    );
  });

  it("is idempotent: a second run finds nothing left to re-seal", async () => {
    const result = runCli(["keys", "rotate", "--json"], { ...cliEnv, BROKER_ENCRYPTION_KEYS: newEntry });
    assert.equal(result.status, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { resealed: number }).resealed, 0);
  });

  it("stops with one line when a sealed value is under a key that is not configured", async () => {
    const stranger = await keyringOf(randomKeyEntry("stranger"));
    await services.db.app.update({
      where: { id: "app_rot_2" },
      data: { sealedWebhookSecret: stranger.seal("x", { rowId: "app_rot_2", field: "App.sealedWebhookSecret" }) },
    });
    const result = runCli(["keys", "rotate"], { ...cliEnv, BROKER_ENCRYPTION_KEYS: `${randomKeyEntry("newer")},${newEntry}` });
    assert.notEqual(result.status, 0);
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    assert.match(result.stderr, /uses key "stranger", which is not in BROKER_ENCRYPTION_KEYS/);
  });
});
