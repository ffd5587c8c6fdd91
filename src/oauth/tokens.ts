/**
 * The tokens the broker issues to apps:
 * - access tokens: JWTs per RFC 9068, verified by the broker itself (the
 *   proxy, userinfo, introspection) with a signature check and one Redis
 *   round trip for revocation, and by anyone else with the JWKS;
 * - ID tokens (OIDC Core §2) when the app asked for `openid`;
 * - refresh tokens: opaque 256-bit secrets, stored only as SHA-256, rotated on
 *   every use (grants/refresh-token.ts).
 * Signing is async (node:crypto on the libuv pool; jose verifies); the key comes from the in-memory
 * cache of SigningKeys, so issuing a token costs no database round trip.
 */
import { createHash, randomUUID, sign as signBytes } from "node:crypto";
import { errors as joseErrors, jwtVerify, SignJWT, type CryptoKey, type JWTHeaderParameters, type JWTPayload } from "jose";
import type { TokenLifetimeLimits } from "../config.js";
import type { Prisma } from "../db.js";
import { generateSecret, hashSecret } from "../crypto/secrets.js";
import { BrokerError, InvalidToken } from "../errors.js";
import type { Services } from "../services.js";
import type { Client } from "../apps/clients.js";
import { identityClaims, type IdentityAccount } from "./identity-claims.js";
import { isRevoked, REVOCATION_LEEWAY_SECONDS, revokedNow } from "../revocation/revocation.js";
import { hasScope } from "./scopes.js";
import { proxyResourceUri } from "./resources.js";
import { andThen } from "../maybe-promise.js";

/** RFC 9068 §2.1: the media type of JWT access tokens, in the `typ` header. */
export const ACCESS_TOKEN_TYP = "at+jwt";

/** Algorithms the broker signs with; a token claiming another is refused before any key is used. */
const ACCEPTED_ALGORITHMS = ["ES256", "EdDSA"];

/** The claims of a broker access token (RFC 9068 §2.2 plus the broker's own). */
export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  /** The account id for account-bound tokens, the client id for client-credentials tokens. */
  sub: string;
  /**
   * The resource the token is for (RFC 8707, RFC 9068 §3): the issuer for the
   * broker's own APIs (and every token issued without `resource`), the
   * proxy's resource URI (resources.ts) or a registered resource server's URI.
   */
  aud: string;
  client_id: string;
  /** Space-separated scopes granted. */
  scope: string;
  exp: number;
  iat: number;
  jti: string;
  /** The account this token acts for (account-bound tokens). */
  acct?: string;
  /** The connector of that account. */
  connector?: string;
  /** The grant (refresh family) the token was issued under; revoking the grant revokes the token. */
  gid?: string;
  /** RFC 8693 §4.1: who acts for the subject (token exchange with delegation), the latest actor outermost. */
  act?: ActorClaim;
}

/** RFC 8693 §4.1 `act`: an actor, and the actor it acted for in turn (a delegation chain). */
export interface ActorClaim {
  sub: string;
  client_id?: string;
  act?: ActorClaim;
}

/**
 * Which audiences a verifier accepts (RFC 8707: a token for one resource is
 * refused by every other):
 * - "broker": the broker's own APIs (accounts API, userinfo, admin) — only
 *   tokens for the issuer, i.e. issued without `resource`;
 * - "proxy": the proxy — tokens for the issuer (issued without `resource`,
 *   today's behaviour) or for the proxy's resource URI;
 * - "any": endpoints that read tokens of every audience (introspection,
 *   revocation, the subject token of a token exchange).
 */
export type AcceptedAudience = "broker" | "proxy" | "any";

type SigningServices = Pick<Services, "config" | "signingKeys">;

export interface IssueAccessTokenInput {
  client: Pick<Client, "id" | "accessTokenTtl">;
  /** `sub`: the account id, or the client id for a token of the app itself. */
  subject: string;
  scope: string;
  accountId?: string;
  connectorId?: string;
  grantId?: string;
  /** `aud`: the resource the token is for (RFC 8707); the issuer when absent. */
  audience?: string;
  /** `act`: the delegation chain (token exchange). */
  actor?: ActorClaim;
  /** Lifetime in seconds; defaults to the client's access-token lifetime. Cut by `accessTokenLifetime` either way. */
  ttl?: number;
}

export interface IssuedAccessToken {
  accessToken: string;
  /** Seconds until it expires (the `expires_in` of the token response). */
  expiresIn: number;
  claims: AccessTokenClaims;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * The longest an access token with scope `admin` lives, whatever its app's
 * lifetime: it can register apps and read every account, so a leaked one
 * must stop working soon (RFC 9700 §4.10), and the operator's tooling can
 * get a new one as cheaply as it got this one (client_credentials).
 */
export const ADMIN_TOKEN_MAX_TTL_SECONDS = 900;

/**
 * The lifetime an access token gets: the one asked for (the front channel's
 * shorter one) or the app's, cut to ACCESS_TOKEN_MAX_TTL_SECONDS (apps
 * registered before the limit may hold more) and, for scope `admin`, to 15 minutes.
 */
export function accessTokenLifetime(limits: TokenLifetimeLimits, client: Pick<Client, "accessTokenTtl">, scope: string, requested?: number): number {
  const ttl = Math.min(requested ?? client.accessTokenTtl, limits.accessTokenMaxTtl);
  return hasScope(scope, "admin") ? Math.min(ttl, ADMIN_TOKEN_MAX_TTL_SECONDS) : ttl;
}

/** The lifetime a refresh token gets: the app's, cut to REFRESH_TOKEN_MAX_TTL_SECONDS (apps registered before the limit may hold more). */
export function refreshTokenLifetime(limits: TokenLifetimeLimits, client: Pick<Client, "refreshTokenTtl">): number {
  return Math.min(client.refreshTokenTtl, limits.refreshTokenMaxTtl);
}

/**
 * How node:crypto signs for each JWS algorithm the broker's keys use
 * (RFC 7518 §3.4: ECDSA signatures are R || S, "ieee-p1363"; RFC 8037 §3.1:
 * EdDSA hashes nothing itself). Any other algorithm is signed by jose.
 */
const NODE_SIGNERS: Record<string, { digest: string | null; dsaEncoding?: "ieee-p1363" }> = {
  ES256: { digest: "sha256", dsaEncoding: "ieee-p1363" },
  EdDSA: { digest: null },
};

/**
 * A compact JWS (RFC 7515 §7.1) of `payload`. Signed with node:crypto's
 * one-shot `sign` on the libuv pool (async, like jose, but a third of its
 * main-thread work per token: no WebCrypto algorithm normalisation, no claims
 * builder; measured in bench/, docs/benchmarks.md). The output is the token
 * jose would make: same header, same JSON, same signature encoding.
 */
async function sign(services: SigningServices, payload: JWTPayload, typ: string): Promise<string> {
  const key = await services.signingKeys.current();
  const header: JWTHeaderParameters = { alg: key.alg, kid: key.kid, typ };
  const signer = NODE_SIGNERS[key.alg];
  if (!signer) return new SignJWT(payload).setProtectedHeader(header).sign(key.privateKey);
  const signingInput = `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
  const signature = await new Promise<Buffer>((resolve, reject) =>
    signBytes(
      signer.digest,
      Buffer.from(signingInput),
      { key: key.privateKeyObject, ...(signer.dsaEncoding ? { dsaEncoding: signer.dsaEncoding } : {}) },
      (err, bytes) => (err ? reject(err) : resolve(bytes)),
    ),
  );
  return `${signingInput}.${signature.toString("base64url")}`;
}

export async function issueAccessToken(services: SigningServices, input: IssueAccessTokenInput): Promise<IssuedAccessToken> {
  const ttl = accessTokenLifetime(services.config.tokenLifetimeLimits, input.client, input.scope, input.ttl);
  const iat = nowSeconds();
  const claims: AccessTokenClaims = {
    iss: services.config.issuer,
    sub: input.subject,
    // Without a resource indicator the broker is the resource server: its own proxy and APIs.
    aud: input.audience ?? services.config.issuer,
    client_id: input.client.id,
    scope: input.scope,
    iat,
    exp: iat + ttl,
    // randomUUID draws from node:crypto's cached entropy (122 random bits); randomBytes(16) was a CSPRNG call per token (~3 % of the token endpoint's profile).
    jti: randomUUID(),
  };
  if (input.accountId !== undefined) claims.acct = input.accountId;
  if (input.connectorId !== undefined) claims.connector = input.connectorId;
  if (input.grantId !== undefined) claims.gid = input.grantId;
  if (input.actor !== undefined) claims.act = input.actor;
  return { accessToken: await sign(services, claims, ACCESS_TOKEN_TYP), expiresIn: ttl, claims };
}

/**
 * OIDC Core §3.1.3.6 / §3.3.2.11: the left half of the hash of a token the ID
 * token travels with (`at_hash` for the access token, `c_hash` for the
 * code), the hash matching the signing algorithm. It binds the ID token to
 * that token, so a front-channel attacker cannot swap in another one.
 */
export function accessTokenHash(accessToken: string, alg: string): string {
  const hash = alg === "EdDSA" || alg.endsWith("512") ? "sha512" : alg.endsWith("384") ? "sha384" : "sha256";
  const digest = createHash(hash).update(accessToken, "ascii").digest();
  return digest.subarray(0, digest.length / 2).toString("base64url");
}

/** `c_hash`: the same left-half hash, of the authorization code (hybrid flow). */
export const codeHash = accessTokenHash;

export interface IssueIdTokenInput {
  client: Pick<Client, "id" | "idTokenTtl">;
  account: IdentityAccount;
  /** The scope granted with it: which identity claims it carries (identity-claims.ts). */
  scope: string;
  nonce?: string | null;
  /** When the end user connected (authenticated at the upstream). */
  authTime?: Date;
  /** The access token issued with it, for `at_hash`. */
  accessToken?: string;
  /** The authorization code issued with it (hybrid flow), for `c_hash`. */
  code?: string;
}

/** An ID token for an account: its identity claims for the granted scope (identity-claims.ts), bound to the tokens it travels with. */
export async function issueIdToken(services: SigningServices, input: IssueIdTokenInput): Promise<string> {
  const iat = nowSeconds();
  const claims: JWTPayload & Record<string, unknown> = {
    iss: services.config.issuer,
    aud: input.client.id,
    iat,
    exp: iat + input.client.idTokenTtl,
    ...identityClaims(input.account, input.scope),
  };
  if (input.authTime) claims.auth_time = Math.floor(input.authTime.getTime() / 1000);
  if (input.nonce) claims.nonce = input.nonce;
  if (input.accessToken || input.code) {
    const { alg } = await services.signingKeys.current();
    if (input.accessToken) claims.at_hash = accessTokenHash(input.accessToken, alg);
    if (input.code) claims.c_hash = codeHash(input.code, alg);
  }
  return sign(services, claims, "JWT");
}

/** Where refresh tokens are written: the client or a transaction. */
export type RefreshTokenWriter = Pick<Prisma.TransactionClient, "refreshToken">;

export interface IssuedRefreshToken {
  refreshToken: string;
  expiresAt: Date;
}

/** A new refresh token value: 256 random bits; only `tokenHash` (SHA-256) may be stored. */
export function generateRefreshToken(): { refreshToken: string; tokenHash: string } {
  const refreshToken = generateSecret();
  return { refreshToken, tokenHash: hashSecret(refreshToken) };
}

/**
 * Stores a new refresh token in a family. The grants write theirs inside
 * their own atomic statements with `generateRefreshToken`; this is for
 * callers that issue one outside those (device code, tests).
 */
export async function issueRefreshToken(db: RefreshTokenWriter, input: { familyId: string; ttl: number }): Promise<IssuedRefreshToken> {
  const { refreshToken, tokenHash } = generateRefreshToken();
  const expiresAt = new Date(Date.now() + input.ttl * 1000);
  await db.refreshToken.create({ data: { tokenHash, familyId: input.familyId, expiresAt } });
  return { refreshToken, expiresAt };
}

/**
 * Verifies a broker access token: signature by a published broker key, `typ`
 * at+jwt (RFC 9068 §4: no ID token or other JWT passes as an access token),
 * issuer, expiry, the audience the caller accepts, then revocation (Redis, or
 * the revocation cache). Throws `InvalidToken` for any token that must not be accepted.
 *
 * Answers at once, without a promise, when every check can be made from
 * what the process holds (a token verified lately, its key known published,
 * its revocation known): the proxy's common call (docs/benchmarks.md). Await
 * it: a refusal is always a rejected promise, never a synchronous throw.
 */
export function verifyAccessToken(
  services: Pick<Services, "config" | "signingKeys" | "redis">,
  jwt: string,
  audience: AcceptedAudience,
): AccessTokenClaims | Promise<AccessTokenClaims> {
  try {
    return andThen(verifyAccessTokenSignature(services, jwt), (claims) => acceptedFor(services, claims, audience));
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

/** The audience and revocation checks of `verifyAccessToken`. */
function acceptedFor(
  services: Pick<Services, "config" | "redis">,
  claims: AccessTokenClaims,
  audience: AcceptedAudience,
): AccessTokenClaims | Promise<AccessTokenClaims> {
  if (!audienceAccepted(services.config.issuer, claims.aud, audience)) throw new InvalidToken("the access token is for another resource");
  const revoked = revokedNow(services.redis, claims);
  if (revoked === undefined) return isRevoked(services.redis, claims).then((known) => notRevoked(claims, known));
  return notRevoked(claims, revoked);
}

function notRevoked(claims: AccessTokenClaims, revoked: boolean): AccessTokenClaims {
  if (revoked) throw new InvalidToken("the access token has been revoked");
  return claims;
}

function audienceAccepted(issuer: string, aud: string, audience: AcceptedAudience): boolean {
  if (audience === "any") return true;
  return aud === issuer || (audience === "proxy" && aud === proxyResourceUri(issuer));
}

/**
 * Everything `verifyAccessToken` checks but audience and revocation: for the revocation
 * endpoint, which must recognise a token of this broker (to revoke it) even
 * when it is revoked already. Throws `InvalidToken`. Answers at once for a
 * token verified lately whose key is known published.
 */
export function verifyAccessTokenSignature(services: Pick<Services, "config" | "signingKeys">, jwt: string): AccessTokenClaims | Promise<AccessTokenClaims> {
  const cache = verifiedTokensOf(services.signingKeys);
  const hit = cache.get(rememberedBy(jwt));
  // Same token text, same issuer, not expired (jose's test, same tolerance), its key still published.
  if (hit && hit.token === jwt && hit.issuer === services.config.issuer && hit.claims.exp > nowSeconds() - REVOCATION_LEEWAY_SECONDS) {
    const published = services.signingKeys.publishedNow(hit.kid);
    if (published === true) return hit.claims;
    if (published === undefined)
      return services.signingKeys.publicKey(hit.kid).then((key) => (key !== undefined ? hit.claims : verifyAnew(services, jwt, cache)));
  }
  return verifyAnew(services, jwt, cache);
}

/** The whole check (jose), for a token not verified lately or whose verification no longer holds; the result is cached. */
async function verifyAnew(services: Pick<Services, "config" | "signingKeys">, jwt: string, cache: VerifiedTokens): Promise<AccessTokenClaims> {
  cache.delete(rememberedBy(jwt));
  let payload: JWTPayload;
  let kid = "";
  try {
    ({ payload } = await jwtVerify(
      jwt,
      async (header) => {
        const key = header.kid ? await services.signingKeys.publicKey(header.kid) : undefined;
        if (!key) throw new InvalidToken("the access token is not signed by a key of this broker");
        kid = header.kid!;
        return key;
      },
      {
        issuer: services.config.issuer,
        typ: ACCESS_TOKEN_TYP,
        algorithms: ACCEPTED_ALGORITHMS,
        requiredClaims: ["exp", "iat", "jti", "sub", "client_id", "aud"],
        clockTolerance: REVOCATION_LEEWAY_SECONDS,
      },
    ));
  } catch (err) {
    if (err instanceof BrokerError) throw err;
    if (err instanceof joseErrors.JOSEError)
      throw new InvalidToken(err instanceof joseErrors.JWTExpired ? "the access token has expired" : "the access token is not valid", {
        detail: err.code,
        cause: err,
      });
    throw err;
  }
  const claims = payload as AccessTokenClaims;
  // The broker issues one audience per token (a string); an array is none of its tokens.
  if (typeof claims.jti !== "string" || typeof claims.client_id !== "string" || typeof claims.scope !== "string" || typeof claims.aud !== "string")
    throw new InvalidToken("the access token is not valid");
  // Frozen, so every use of the token shares these claims instead of a copy per call (the proxy's hot path).
  deepFreeze(claims);
  if (jwt.length <= MAX_CACHED_TOKEN_LENGTH) {
    if (cache.size >= VERIFIED_TOKENS_CACHED) cache.delete(cache.keys().next().value!);
    cache.set(rememberedBy(jwt), { token: jwt, issuer: services.config.issuer, kid, claims });
  }
  return claims;
}

/**
 * Access tokens whose signature and claims were verified lately, by their
 * exact text, per set of signing keys (so one process's brokers never share
 * them). An app uses its access token for up to an hour, and the proxy,
 * userinfo and introspection check it on every call: the signature check
 * (WebCrypto through jose, the most expensive step of those endpoints in the
 * bench profile) is done once; expiry and the key's publication are checked
 * again on every use, and revocation on every use too (isRevoked: Redis, or
 * the revocation cache while its subscription is live). Bounded: the oldest
 * entry goes first.
 */
const VERIFIED_TOKENS_CACHED = 10_000;
const MAX_CACHED_TOKEN_LENGTH = 4_096;
/**
 * A remembered token is found by its last characters (its signature's) and
 * then compared whole: a token's text is a new string on every call, and a
 * `Map` keyed by the whole text hashed all of it (~550 characters) on every
 * lookup, ~7,000 instructions, where comparing it to the one remembered is
 * a fraction of that (docs/benchmarks.md).
 */
const REMEMBERED_BY_LAST = 32;

function rememberedBy(jwt: string): string {
  return jwt.length > REMEMBERED_BY_LAST ? jwt.slice(-REMEMBERED_BY_LAST) : jwt;
}

type VerifiedTokens = Map<string, { token: string; issuer: string; kid: string; claims: AccessTokenClaims }>;
const verifiedTokens = new WeakMap<object, VerifiedTokens>();

function verifiedTokensOf(signingKeys: object): VerifiedTokens {
  let cache = verifiedTokens.get(signingKeys);
  if (!cache) verifiedTokens.set(signingKeys, (cache = new Map()));
  return cache;
}

/** Verified claims are shared by every use of their token: nothing may change them (`act` nests). */
function deepFreeze(value: object): void {
  Object.freeze(value);
  for (const inner of Object.values(value)) if (typeof inner === "object" && inner !== null && !Object.isFrozen(inner)) deepFreeze(inner);
}
