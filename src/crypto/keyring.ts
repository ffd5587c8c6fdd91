/**
 * The keyring for data at rest, from BROKER_ENCRYPTION_KEYS, and sealing with
 * libsodium's XChaCha20-Poly1305 (AEAD). A sealed value is the string
 * `v1.<kid>.<nonce>.<ciphertext>` (base64url): the key id travels with the
 * ciphertext, so old keys keep opening old values until `keys rotate`
 * re-seals them under the current key. The associated data binds a value to
 * its row and field, so a ciphertext copied into another row or column does
 * not open (a swapped-blob attack fails authentication).
 */
import { randomBytes } from "node:crypto";
import sodium from "libsodium-wrappers";
import type { EncryptionKeySpec } from "../config.js";
import { BrokerError } from "../errors.js";

const FORMAT = "v1";

/** Where a sealed value lives: its row id and field name. Both are authenticated. */
export interface SealContext {
  rowId: string;
  field: string;
}

/** A sealed value that cannot be opened: tampered, moved, or under an unknown key. */
export class SealError extends BrokerError {
  override name = "SealError";
  constructor(description: string, options?: { cause?: unknown }) {
    super(500, "vault_error", description, options);
  }
}

let sodiumReady: Promise<void> | undefined;
/** libsodium's WebAssembly must be loaded once before the keyring is used. */
export function loadSodium(): Promise<void> {
  sodiumReady ??= sodium.ready;
  return sodiumReady;
}

function associatedData(context: SealContext): Uint8Array {
  return sodium.from_string(`authbroker:${FORMAT}:${context.field}:${context.rowId}`);
}

export class Keyring {
  private readonly keys: Map<string, Uint8Array>;
  /** The key id new values are sealed under (the first of BROKER_ENCRYPTION_KEYS). */
  readonly currentKid: string;

  private constructor(specs: EncryptionKeySpec[]) {
    if (specs.length === 0) throw new TypeError("a keyring needs at least one key");
    this.keys = new Map(specs.map((s) => [s.kid, s.key]));
    this.currentKid = specs[0]!.kid;
  }

  static async create(specs: EncryptionKeySpec[]): Promise<Keyring> {
    await loadSodium();
    return new Keyring(specs);
  }

  get kids(): string[] {
    return [...this.keys.keys()];
  }

  seal(plaintext: string, context: SealContext): string {
    const key = this.keys.get(this.currentKid)!;
    // Node's CSPRNG in one call: libsodium-wrappers' randombytes_buf asks WebCrypto for 4 bytes at a
    // time (six calls per nonce), which was ~100 µs of CPU per sealed value (docs/benchmarks.md).
    const nonce = randomBytes(sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    const ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(sodium.from_string(plaintext), associatedData(context), null, nonce, key);
    const b64 = (b: Uint8Array) => sodium.to_base64(b, sodium.base64_variants.URLSAFE_NO_PADDING);
    return `${FORMAT}.${this.currentKid}.${b64(nonce)}.${b64(ciphertext)}`;
  }

  open(sealed: string, context: SealContext): string {
    const parts = sealed.split(".");
    if (parts.length !== 4 || parts[0] !== FORMAT) throw new SealError(`sealed ${context.field} of ${context.rowId} is not in the ${FORMAT} format`);
    const [, kid, nonceText, ciphertextText] = parts as [string, string, string, string];
    const key = this.keys.get(kid);
    if (!key) throw new SealError(`sealed ${context.field} of ${context.rowId} uses key "${kid}", which is not in BROKER_ENCRYPTION_KEYS`);
    try {
      const from64 = (t: string) => sodium.from_base64(t, sodium.base64_variants.URLSAFE_NO_PADDING);
      const plaintext = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, from64(ciphertextText), associatedData(context), from64(nonceText), key);
      return sodium.to_string(plaintext);
    } catch (cause) {
      throw new SealError(`sealed ${context.field} of ${context.rowId} failed authentication (tampered, moved to another row or field, or wrong key)`, {
        cause,
      });
    }
  }

  sealJson(value: unknown, context: SealContext): string {
    return this.seal(JSON.stringify(value), context);
  }

  openJson<T>(sealed: string, context: SealContext): T {
    return JSON.parse(this.open(sealed, context)) as T;
  }

  /** The key id a sealed value was sealed under. */
  static kidOf(sealed: string): string | undefined {
    const parts = sealed.split(".");
    return parts.length === 4 ? parts[1] : undefined;
  }

  /** Whether a sealed value is under the current key already. */
  isCurrent(sealed: string): boolean {
    return Keyring.kidOf(sealed) === this.currentKid;
  }
}

/** A new key entry for BROKER_ENCRYPTION_KEYS: `kid:base64(32 random bytes)`. */
export async function generateKeyEntry(kid: string): Promise<string> {
  await loadSodium();
  return `${kid}:${sodium.to_base64(sodium.randombytes_buf(32), sodium.base64_variants.ORIGINAL)}`;
}
