/**
 * AWS Signature Version 4 (`api.credentials: aws_sigv4`): Amazon S3 and
 * S3-compatible storage (MinIO, Cloudflare R2…) take no bearer token; every
 * request is signed with the account's access key id and secret. The
 * signing is @smithy/signature-v4's, the AWS SDK's own signer; this module
 * only says what is signed.
 *
 * - Headers signed: `host`, every `x-amz-*`, `content-md5` and
 *   `content-type` when present (what AWS requires, and no header a hop
 *   could change). The app's `x-amz-date`, `x-amz-content-sha256` and
 *   `x-amz-security-token` are replaced, never signed as they came.
 * - The payload: the SHA-256 of a body the proxy holds (none, or a small
 *   one it read to replay), `UNSIGNED-PAYLOAD` for a streamed one, which S3
 *   and its compatibles accept (so a large upload is never held in memory
 *   to be hashed). Other AWS services want the hash: a streamed body to
 *   them is refused before anything is sent.
 * - The path: S3 encodes each path segment once (other services twice):
 *   the canonical path is each segment decoded and encoded again, which is
 *   what the server computes from the request whatever encoding the app
 *   chose.
 */
import { createHash } from "node:crypto";
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";
import { PayloadTooLarge } from "../errors.js";

/** The connector's `api.signing`. */
export interface AwsSigning {
  region: string;
  service: string;
}

/** What the account keeps: the end user's key (the connector's fields of these names). */
export interface AwsKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";

/** The body of the request being signed: its bytes when they are at hand, `stream` when they pass through. */
export type SignedPayload = { kind: "none" } | { kind: "bytes"; bytes: Uint8Array } | { kind: "stream" };

export interface RequestToSign {
  method: string;
  url: URL;
  /** The query as it will be sent (`?a=b` or ""); the URL's own search is not read. */
  search: string;
  /** Lower-case names; signed ones are read, and the signature's headers are written here. */
  headers: Record<string, string | string[]>;
  payload: SignedPayload;
}

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const REPLACED_HEADERS = ["x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "authorization"];

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

/** The query as @smithy/signature-v4 takes it: decoded names and values (it encodes and sorts them). A name without `=` has the empty value. */
function queryOf(search: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const pair of search.replace(/^\?/, "").split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const name = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? "" : decode(pair.slice(eq + 1));
    const existing = query[name];
    query[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return query;
}

function payloadHash(payload: SignedPayload, service: string): string {
  if (payload.kind === "none") return EMPTY_SHA256;
  if (payload.kind === "bytes") return createHash("sha256").update(payload.bytes).digest("hex");
  if (service === "s3") return UNSIGNED_PAYLOAD;
  throw new PayloadTooLarge(`a streamed request body cannot be signed for the AWS service "${service}": send it with a Content-Length of at most 64 KiB`);
}

/**
 * Signs the request in place: sets `authorization`, `x-amz-date`,
 * `x-amz-content-sha256` and, for temporary credentials,
 * `x-amz-security-token`.
 */
export async function signAwsRequest(request: RequestToSign, signing: AwsSigning, keys: AwsKeys): Promise<void> {
  const { headers } = request;
  for (const name of REPLACED_HEADERS) delete headers[name];
  headers["x-amz-content-sha256"] = payloadHash(request.payload, signing.service);
  if (keys.sessionToken) headers["x-amz-security-token"] = keys.sessionToken;
  const toSign: Record<string, string> = { host: request.url.host };
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith("x-amz-") || name === "content-md5" || name === "content-type") {
      // One line per header: repeated values joined as the server will read them.
      const text = Array.isArray(value) ? value.join(",") : value;
      headers[name] = text;
      toSign[name] = text;
    }
  }
  const s3 = signing.service === "s3";
  const path = s3
    ? request.url.pathname
        .split("/")
        .map((segment) => uriEncode(decode(segment)))
        .join("/")
    : request.url.pathname;
  const signer = new SignatureV4({
    service: signing.service,
    region: signing.region,
    sha256: Hash.bind(null, "sha256"),
    credentials: { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey, sessionToken: keys.sessionToken },
    // S3's canonical path is the path encoded once (above); the others' is encoded again by the signer.
    uriEscapePath: !s3,
  });
  const signed = await signer.sign({
    method: request.method,
    protocol: request.url.protocol,
    hostname: request.url.hostname,
    port: request.url.port === "" ? undefined : Number(request.url.port),
    path,
    query: queryOf(request.search),
    headers: toSign,
  });
  for (const name of ["authorization", "x-amz-date"]) headers[name] = String(signed.headers[name]);
}
