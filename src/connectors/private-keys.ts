/**
 * The broker's signing keys at upstreams (jwt_bearer assertions,
 * private_key_jwt): made here, or read from the file an upstream handed
 * out — a PEM private key (PKCS#8, PKCS#1 or SEC 1), a private JWK, or a
 * Google service-account JSON key file. What is kept is a private JWK with
 * `alg` and `kid`; what is shown is only the public half.
 */
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, exportSPKI, generateKeyPair, importJWK, type JWK } from "jose";
import type { SigningAlgorithm } from "./schema-fields.js";

export interface ConnectorKeyPair {
  privateJwk: JWK;
  publicJwk: JWK;
  /** The public key as SPKI PEM, the form most upstream consoles ask for. */
  publicKeyPem: string;
  alg: SigningAlgorithm;
  kid: string;
}

/** The JWK member naming a key's X.509 certificate by its SHA-256 thumbprint (RFC 7517 §4.9), as Microsoft Entra wants it in the assertion header. */
export const CERTIFICATE_THUMBPRINT = "x5t#S256";

/** A key file's content the operator gave, with what it says besides the key. */
export interface ImportedKey extends ConnectorKeyPair {
  /** A Google service-account file's `client_email`: the assertion's `iss`. */
  clientId?: string;
}

/** A key that cannot be used, in words the operator can act on. */
export class KeyFileError extends Error {
  override name = "KeyFileError";
}

const PUBLIC_MEMBERS: Record<string, string[]> = { RSA: ["kty", "n", "e"], EC: ["kty", "crv", "x", "y"] };

function publicHalf(jwk: JWK): JWK {
  const members = PUBLIC_MEMBERS[jwk.kty ?? ""];
  if (!members) throw new KeyFileError(`a ${jwk.kty ?? "keyless"} key cannot sign RS256 or ES256 assertions`);
  return Object.fromEntries(members.map((m) => [m, jwk[m as keyof JWK]])) as JWK;
}

/** The algorithm a key signs with: RS256 for RSA (2048 bits at least), ES256 for P-256. */
function algorithmOf(jwk: JWK, wanted?: SigningAlgorithm): SigningAlgorithm {
  const alg: SigningAlgorithm | undefined = jwk.kty === "RSA" ? "RS256" : jwk.kty === "EC" && jwk.crv === "P-256" ? "ES256" : undefined;
  if (!alg) throw new KeyFileError(`a ${jwk.kty} key${jwk.crv ? ` on ${jwk.crv}` : ""} cannot sign RS256 or ES256 assertions`);
  if (wanted && wanted !== alg) throw new KeyFileError(`the key is for ${alg}, but ${wanted} was asked for`);
  if (alg === "RS256" && Buffer.from(jwk.n ?? "", "base64url").length < 256) throw new KeyFileError("an RSA key must have at least 2048 bits");
  return alg;
}

async function completePair(privateParts: JWK, options: { alg?: SigningAlgorithm; kid?: string }): Promise<ConnectorKeyPair> {
  const alg = algorithmOf(privateParts, options.alg);
  const bare = publicHalf(privateParts);
  // RFC 7638 thumbprint: a stable id the upstream's admin can compare with the key they registered.
  const kid = options.kid ?? (await calculateJwkThumbprint(bare, "sha256"));
  const publicJwk: JWK = { ...bare, alg, kid, use: "sig" };
  const privateJwk: JWK = { ...privateParts, alg, kid, use: "sig" };
  delete privateJwk.key_ops;
  delete privateJwk.ext;
  const publicKeyPem = await exportSPKI((await importJWK(publicJwk, alg)) as Exclude<Awaited<ReturnType<typeof importJWK>>, Uint8Array>);
  return { privateJwk, publicJwk, publicKeyPem, alg, kid };
}

/** A new key pair for a connector: RSA 2048 (RS256) or P-256 (ES256). */
export async function generateConnectorKey(alg: SigningAlgorithm, kid?: string): Promise<ConnectorKeyPair> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  return completePair(await exportJWK(privateKey), { alg, kid });
}

function fromKeyObject(key: KeyObject): JWK {
  if (key.type !== "private") throw new KeyFileError("the file holds a public key; the broker needs the private key");
  return key.export({ format: "jwk" }) as JWK;
}

function parsePem(pem: string): JWK {
  try {
    return fromKeyObject(createPrivateKey({ key: pem, format: "pem" }));
  } catch (err) {
    if (err instanceof KeyFileError) throw err;
    const code = (err as { code?: string }).code;
    if (code === "ERR_MISSING_PASSPHRASE") throw new KeyFileError("the private key is encrypted; decrypt it first (openssl pkey -in key.pem -out plain.pem)");
    throw new KeyFileError("the file is not a PEM private key, a private JWK or a Google service-account key file");
  }
}

const CERTIFICATE_PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/**
 * The certificate registered at the upstream for this key (Microsoft
 * Entra's "certificate credentials"): it must hold the key's public half and
 * be valid now. Returns its SHA-256 thumbprint, base64url (`x5t#S256`, RFC
 * 7515 §4.1.8), which the assertion header carries.
 */
function certificateThumbprint(pem: string, privateParts: JWK, now = Date.now()): string {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    throw new KeyFileError("the certificate is not a PEM X.509 certificate");
  }
  const certified = certificate.publicKey.export({ format: "jwk" }) as JWK;
  const key = publicHalf(privateParts);
  if (Object.keys(key).some((member) => key[member as keyof JWK] !== certified[member as keyof JWK]))
    throw new KeyFileError("the certificate is for another key than the private key");
  if (Date.parse(certificate.validTo) <= now) throw new KeyFileError(`the certificate expired on ${new Date(certificate.validTo).toISOString()}`);
  if (Date.parse(certificate.validFrom) > now) throw new KeyFileError(`the certificate is valid only from ${new Date(certificate.validFrom).toISOString()}`);
  return createHash("sha256").update(certificate.raw).digest("base64url");
}

/**
 * Reads a key file's text: PEM, a private JWK, or a Google service-account
 * JSON key. A certificate for the key — in the same PEM file, or given
 * apart (`certificatePem`) — adds its thumbprint to the key (`x5t#S256`).
 */
export async function importConnectorKey(text: string, options: { alg?: SigningAlgorithm; kid?: string; certificatePem?: string } = {}): Promise<ImportedKey> {
  const certificatePem = options.certificatePem ?? CERTIFICATE_PEM.exec(text)?.[0];
  const imported = await importKeyText(text.replace(CERTIFICATE_PEM, "").trim(), options);
  if (certificatePem === undefined) return imported;
  const thumbprint = certificateThumbprint(certificatePem, imported.privateJwk);
  return {
    ...imported,
    privateJwk: { ...imported.privateJwk, [CERTIFICATE_THUMBPRINT]: thumbprint },
    publicJwk: { ...imported.publicJwk, [CERTIFICATE_THUMBPRINT]: thumbprint },
  };
}

async function importKeyText(trimmed: string, options: { alg?: SigningAlgorithm; kid?: string }): Promise<ImportedKey> {
  if (!trimmed.startsWith("{")) return completePair(parsePem(trimmed), options);
  let document: Record<string, unknown>;
  try {
    document = JSON.parse(trimmed) as Record<string, unknown>;
  } catch {
    throw new KeyFileError("the file starts like JSON but does not parse");
  }
  if (typeof document.private_key === "string") {
    // A Google service-account key: the PEM, its id (the kid Google expects) and the account's email (the iss).
    const pair = await completePair(parsePem(document.private_key), {
      alg: options.alg,
      kid: options.kid ?? (typeof document.private_key_id === "string" ? document.private_key_id : undefined),
    });
    return { ...pair, clientId: typeof document.client_email === "string" ? document.client_email : undefined };
  }
  if (typeof document.kty === "string") {
    if (typeof document.d !== "string") throw new KeyFileError("the JWK is a public key; the broker needs the private key");
    let checked: JWK;
    try {
      // Round-trip through node so a malformed JWK fails here, not at the first assertion.
      checked = fromKeyObject(createPrivateKey({ key: document as JWK & { kty: string }, format: "jwk" }));
    } catch (err) {
      if (err instanceof KeyFileError) throw err;
      throw new KeyFileError("the JWK is not a usable private key");
    }
    return completePair(checked, {
      alg: options.alg ?? (document.alg as SigningAlgorithm | undefined),
      kid: options.kid ?? (typeof document.kid === "string" ? document.kid : undefined),
    });
  }
  throw new KeyFileError("the JSON file is neither a private JWK nor a Google service-account key file");
}
