/**
 * An S3-compatible server for integration tests: s3rver (buckets, objects
 * streamed to and from disk, S3's XML answers and errors) on
 * http://127.0.0.1, with every request's AWS Signature Version 4 checked
 * first, as S3 does. s3rver itself checks only that the access key id
 * exists (its source: "Signature version 4 calculation is unimplemented"),
 * so the check is done here, written from AWS's description of the
 * algorithm and independent of the signer the broker uses:
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 *
 * Like S3, the canonical URI is the path decoded and encoded again once
 * (S3 does not double-encode), the payload hash is what
 * `x-amz-content-sha256` says (`UNSIGNED-PAYLOAD` allowed), and a failure
 * is a 403 with S3's XML error (`SignatureDoesNotMatch`, `InvalidAccessKeyId`).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import S3rver from "s3rver";

/** s3rver's built-in account: the only key id it knows. */
export const S3_ACCESS_KEY_ID = "S3RVER";
export const S3_SECRET_ACCESS_KEY = "S3RVER";
export const S3_REGION = "us-east-1";

export interface S3Upstream {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, what a per-server connector's hostname is. */
  host: string;
  /** Requests refused because their signature was missing or wrong. */
  readonly refused: number;
  /** Requests whose signature was checked and matched, by payload hash kind. */
  readonly signed: { unsigned: number; hashed: number };
  close(): Promise<void>;
}

/** RFC 3986 unreserved characters as they are, everything else percent-encoded (AWS's UriEncode). */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

interface Request {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Why the request's signature is not valid for `secrets`, or undefined when it is. */
function signatureProblem(req: Request, secrets: Map<string, string>, counts: S3Upstream["signed"]): { code: string; message: string } | undefined {
  const header = typeof req.headers.authorization === "string" ? req.headers.authorization : "";
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
    header,
  );
  if (!match) return { code: "AccessDenied", message: "An AWS4-HMAC-SHA256 Authorization header is required." };
  const [, keyId, day, region, service, signedHeaderList, signature] = match as unknown as string[];
  const secret = secrets.get(keyId!);
  if (secret === undefined) return { code: "InvalidAccessKeyId", message: "The AWS Access Key Id you provided does not exist in our records." };
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== day)
    return { code: "AccessDenied", message: "X-Amz-Date is missing or does not match the credential scope." };
  const signedAt = Date.UTC(
    +amzDate.slice(0, 4),
    +amzDate.slice(4, 6) - 1,
    +amzDate.slice(6, 8),
    +amzDate.slice(9, 11),
    +amzDate.slice(11, 13),
    +amzDate.slice(13, 15),
  );
  if (Math.abs(Date.now() - signedAt) > 15 * 60_000)
    return { code: "RequestTimeTooSkewed", message: "The difference between the request time and the current time is too large." };
  if (region !== S3_REGION || service !== "s3")
    return { code: "AuthorizationHeaderMalformed", message: `the region '${region}' or service '${service}' is wrong; expecting '${S3_REGION}' and 's3'` };
  const signedHeaders = signedHeaderList!.split(";");
  if (!signedHeaders.includes("host")) return { code: "AccessDenied", message: "The host header must be signed." };
  for (const name of Object.keys(req.headers)) {
    if (name.startsWith("x-amz-") && !signedHeaders.includes(name))
      return { code: "AccessDenied", message: `There were headers present in the request which were not signed: ${name}` };
  }
  const payloadHash = String(req.headers["x-amz-content-sha256"] ?? "");
  if (payloadHash !== "UNSIGNED-PAYLOAD" && !/^[0-9a-f]{64}$/.test(payloadHash))
    return { code: "InvalidRequest", message: "Missing required header for this request: x-amz-content-sha256" };

  const [rawPath, rawQuery = ""] = req.url.split("?", 2) as [string, string?];
  const canonicalUri = rawPath
    .split("/")
    .map((segment) => uriEncode(decode(segment)))
    .join("/");
  const canonicalQuery = rawQuery
    .split("&")
    .filter((pair) => pair !== "")
    .map((pair) => {
      const eq = pair.indexOf("=");
      const [name, value] = eq === -1 ? [pair, ""] : [pair.slice(0, eq), pair.slice(eq + 1)];
      return `${uriEncode(decode(name))}=${uriEncode(decode(value))}`;
    })
    .sort()
    .join("&");
  const canonicalHeaders = signedHeaders
    .map((name) => {
      const value = req.headers[name];
      const text = Array.isArray(value) ? value.join(",") : (value ?? "");
      return `${name}:${text.trim().replace(/\s+/g, " ")}\n`;
    })
    .join("");
  const canonicalRequest = [req.method, canonicalUri, canonicalQuery, canonicalHeaders, signedHeaderList, payloadHash].join("\n");
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, createHash("sha256").update(canonicalRequest, "utf8").digest("hex")].join("\n");
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${secret}`, day!), region!), service!), "aws4_request");
  const expected = hmac(signingKey, stringToSign);
  if (!timingSafeEqual(expected, Buffer.from(signature!, "hex")))
    return {
      code: "SignatureDoesNotMatch",
      message: "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    };
  if (payloadHash === "UNSIGNED-PAYLOAD") counts.unsigned += 1;
  else counts.hashed += 1;
  return undefined;
}

function xmlError(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
}

export interface S3UpstreamOptions {
  buckets?: string[];
  /**
   * More access keys (id → secret) beside s3rver's own: real ones have the
   * shape AWS gives them (a 20-character id), which a shipped connector file
   * checks. s3rver knows only its built-in account, so a request whose
   * signature matched is handed to it under that account's id.
   */
  accessKeys?: Record<string, string>;
}

export async function startS3Upstream(options: S3UpstreamOptions = {}): Promise<S3Upstream> {
  const directory = mkdtempSync(join(tmpdir(), "authbroker-s3-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name, configs: [] })),
  });
  const secrets = new Map([[S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY], ...Object.entries(options.accessKeys ?? {})]);
  const signed = { unsigned: 0, hashed: 0 };
  let refused = 0;
  // First in the chain, before any of s3rver's own handling.
  server.middleware.unshift(async (ctx, next) => {
    const problem = signatureProblem({ method: ctx.method, url: ctx.url, headers: ctx.headers }, secrets, signed);
    if (problem) {
      refused += 1;
      ctx.status = 403;
      ctx.type = "application/xml";
      ctx.body = xmlError(problem.code, problem.message);
      return;
    }
    ctx.headers.authorization = String(ctx.headers.authorization).replace(/Credential=[^/]+\//, `Credential=${S3_ACCESS_KEY_ID}/`);
    await next();
  });
  const address = (await server.run()) as AddressInfo;
  const host = `127.0.0.1:${address.port}`;
  return {
    url: `http://${host}`,
    host,
    get refused() {
      return refused;
    },
    signed,
    async close() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
