import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { loadConfig } from "../../../src/config.js";
import { Keyring, SealError, generateKeyEntry } from "../../../src/crypto/keyring.js";

async function keyringOf(entries: string): Promise<Keyring> {
  return Keyring.create(loadConfig({ BROKER_ENCRYPTION_KEYS: entries }).encryptionKeys);
}

const entry = (kid: string) => `${kid}:${randomBytes(32).toString("base64")}`;
const AT = { rowId: "acct_1", field: "Credential.sealedAccessToken" };

/** Flips one bit of the base64url text of a sealed value's part (2 = nonce, 3 = ciphertext). */
function flipBit(sealed: string, part: 2 | 3): string {
  const parts = sealed.split(".");
  const bytes = Buffer.from(parts[part]!, "base64url");
  bytes[bytes.length >> 1]! ^= 0x01;
  parts[part] = bytes.toString("base64url");
  return parts.join(".");
}

function assertSealError(run: () => unknown, message: RegExp): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof SealError, `expected SealError, got ${String(err)}`);
    assert.match(err.message, message);
    assert.equal(err.code, "vault_error");
    // A vault failure is an internal error: never shown to a client as is.
    assert.equal(err.expose, false);
    return true;
  });
}

describe("the keyring seals and opens values", () => {
  let keyring: Keyring;
  const k1 = entry("k1");
  before(async () => {
    keyring = await keyringOf(`${k1},${entry("k0")}`);
  });

  it("round-trips text and JSON, and the plaintext does not appear in the sealed value", () => {
    const secret = `ya29.${randomBytes(24).toString("base64url")}`;
    const sealed = keyring.seal(secret, AT);
    assert.ok(!sealed.includes(secret));
    assert.equal(keyring.open(sealed, AT), secret);

    const fields = { username: "ada", password: "correct horse", nested: { n: 1 } };
    assert.deepEqual(keyring.openJson(keyring.sealJson(fields, AT), AT), fields);
    assert.equal(keyring.open(keyring.seal("", AT), AT), "");
    assert.equal(keyring.open(keyring.seal("päss✓", AT), AT), "päss✓");
  });

  it("stores the key id with the ciphertext and seals under the first key", () => {
    const sealed = keyring.seal("x", AT);
    assert.match(sealed, /^v1\.k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.equal(Keyring.kidOf(sealed), "k1");
    assert.equal(keyring.currentKid, "k1");
    assert.ok(keyring.isCurrent(sealed));
    assert.deepEqual(keyring.kids, ["k1", "k0"]);
  });

  it("uses a fresh nonce every time: the same plaintext seals differently", () => {
    assert.notEqual(keyring.seal("same", AT), keyring.seal("same", AT));
  });

  it("opens a value sealed under an older key that is still in the keyring", async () => {
    const k0 = entry("k0");
    const old = await keyringOf(k0);
    const sealed = old.seal("from before", AT);
    const rotated = await keyringOf(`${entry("k2")},${k0}`);
    assert.equal(rotated.open(sealed, AT), "from before");
    assert.equal(rotated.isCurrent(sealed), false);
  });

  it("refuses a tampered ciphertext", () => {
    const sealed = keyring.seal("secret", AT);
    assertSealError(() => keyring.open(flipBit(sealed, 3), AT), /sealed Credential\.sealedAccessToken of acct_1 failed authentication/);
  });

  it("refuses a tampered nonce", () => {
    const sealed = keyring.seal("secret", AT);
    assertSealError(() => keyring.open(flipBit(sealed, 2), AT), /failed authentication/);
  });

  it("refuses a value moved to another row (wrong associated data)", () => {
    const sealed = keyring.seal("secret", AT);
    assertSealError(
      () => keyring.open(sealed, { ...AT, rowId: "acct_2" }),
      /of acct_2 failed authentication \(tampered, moved to another row or field, or wrong key\)/,
    );
  });

  it("refuses a value moved to another field of the same row", () => {
    const sealed = keyring.seal("secret", AT);
    assertSealError(
      () => keyring.open(sealed, { ...AT, field: "Credential.sealedRefreshToken" }),
      /sealed Credential\.sealedRefreshToken of acct_1 failed authentication/,
    );
  });

  it("refuses a key id that is not in BROKER_ENCRYPTION_KEYS, naming it", async () => {
    const other = await keyringOf(entry("gone"));
    const sealed = other.seal("secret", AT);
    assertSealError(() => keyring.open(sealed, AT), /uses key "gone", which is not in BROKER_ENCRYPTION_KEYS/);
  });

  it("refuses a value sealed under a different key with the same key id", async () => {
    const impostor = await keyringOf(entry("k1"));
    assertSealError(() => keyring.open(impostor.seal("secret", AT), AT), /failed authentication/);
  });

  it("refuses something that is not a sealed value", () => {
    assertSealError(() => keyring.open("plain text", AT), /is not in the v1 format/);
    assertSealError(() => keyring.open("v2.k1.a.b", AT), /is not in the v1 format/);
    assertSealError(() => keyring.open("v1.k1.!!!.???", AT), /failed authentication/);
  });

  it("never puts the plaintext in an error message", () => {
    const secret = `refresh-${randomBytes(16).toString("hex")}`;
    const sealed = keyring.seal(secret, AT);
    try {
      keyring.open(flipBit(sealed, 3), AT);
      assert.fail("expected a SealError");
    } catch (err) {
      assert.ok(!(err as Error).message.includes(secret));
    }
  });
});

describe("generateKeyEntry", () => {
  it("makes an entry that BROKER_ENCRYPTION_KEYS accepts, with 32 fresh random bytes", async () => {
    const a = await generateKeyEntry("k20260101");
    const b = await generateKeyEntry("k20260101");
    assert.match(a, /^k20260101:[A-Za-z0-9+/]{43}=$/);
    assert.notEqual(a, b);
    const [spec] = loadConfig({ BROKER_ENCRYPTION_KEYS: a }).encryptionKeys;
    assert.equal(spec?.key.length, 32);
  });
});

describe("a keyring needs a key", () => {
  it("throws a TypeError for an empty list (a programming mistake)", async () => {
    await assert.rejects(Keyring.create([]), { name: "TypeError", message: "a keyring needs at least one key" });
  });
});

describe("what the mutation run showed untested (docs/security.md, Mutation testing)", () => {
  let keyring: Keyring;
  before(async () => {
    keyring = await keyringOf(entry("k1"));
  });

  it("a value with too few or too many parts is not in the format, whatever it starts with", () => {
    assertSealError(() => keyring.open("v1.k1.abc", AT), /is not in the v1 format/);
    const sealed = keyring.seal("secret", AT);
    assertSealError(() => keyring.open(`${sealed}.extra`, AT), /is not in the v1 format/);
  });

  it("a failed authentication keeps libsodium's error as its cause, and names itself SealError", () => {
    const sealed = keyring.seal("secret", AT);
    assert.throws(
      () => keyring.open(flipBit(sealed, 3), AT),
      (err: unknown) => err instanceof SealError && err.name === "SealError" && err.cause instanceof Error,
    );
  });

  it("kidOf names a key only for a value of four parts", () => {
    assert.equal(Keyring.kidOf("v1.k1.abc"), undefined);
    assert.equal(Keyring.kidOf("v1.k1.a.b.c"), undefined);
    assert.equal(keyring.isCurrent("v1.k1.abc"), false);
  });
});
