/**
 * The broker's authorization codes: 256-bit, single use, short-lived (RFC
 * 6749 §4.1.2: at most ten minutes; one minute here), stored as SHA-256 with
 * everything the token endpoint must check (client, redirect URI, PKCE
 * challenge, nonce, scope, resource).
 */
import type { Db } from "../db.js";
import { generateSecret, hashSecret } from "../crypto/secrets.js";

export const CODE_TTL_SECONDS = 60;

export interface AuthorizationCodeInput {
  appId: string;
  accountId: string;
  redirectUri: string;
  scope: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
  nonce?: string;
  /** RFC 8707: the resource its tokens are for; absent: the broker itself. */
  resource?: string;
  authTime?: Date;
}

/** Stores a new code and returns it (the only time it exists in clear). */
export async function issueAuthorizationCode(db: Pick<Db, "authorizationCode">, input: AuthorizationCodeInput): Promise<string> {
  const code = generateSecret();
  await db.authorizationCode.create({
    data: {
      codeHash: hashSecret(code),
      appId: input.appId,
      accountId: input.accountId,
      redirectUri: input.redirectUri,
      scope: input.scope,
      codeChallenge: input.codeChallenge ?? null,
      codeChallengeMethod: input.codeChallengeMethod ?? null,
      nonce: input.nonce ?? null,
      resource: input.resource ?? null,
      authTime: input.authTime ?? new Date(),
      expiresAt: new Date(Date.now() + CODE_TTL_SECONDS * 1000),
    },
  });
  return code;
}
