/**
 * What the broker tells an app about the end user of an account: the claims
 * the ID token (tokens.ts) and userinfo (userinfo.ts) both carry, decided
 * here once so the two never disagree.
 *
 * - `sub` (the account id) and `connector` always: they say which account
 *   the token is about, which is what `openid` asks for.
 * - `upstream_host` always for a per-server account (a connector whose URLs
 *   hold `{hostname}`): the server the end user named. Anyone who runs a
 *   server that matches the connector's pattern decides what it says about
 *   its users, email included; an app that reads an email must know which
 *   server claimed it, and trust only the servers it trusts.
 * - OIDC Core §5.4: `email` and `email_verified` only with scope `email`,
 *   `name` only with scope `profile` — what the consent page told the end
 *   user the app would see (src/connect/consent.ts).
 * - `email_verified` only when the upstream said it (true or false); an
 *   account whose upstream said nothing has none, never a default `true`.
 */
import { readAccountProfile } from "../accounts/accounts.js";
import { hasScope } from "./scopes.js";

/** The account as the claims need it (a row of `Account`). */
export interface IdentityAccount {
  id: string;
  connectorId: string;
  /** The per-server connector's host[:port]; "" for every other connector. */
  hostname: string;
  /** The stored profile (accounts.ts `AccountProfile`), as read from the database. */
  profile: unknown;
}

export interface IdentityClaims {
  sub: string;
  connector: string;
  upstream_host?: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
}

/** Every claim `identityClaims` may return, for discovery's `claims_supported`. */
export const IDENTITY_CLAIM_NAMES = [
  "sub",
  "connector",
  "upstream_host",
  "email",
  "email_verified",
  "name",
] as const satisfies readonly (keyof IdentityClaims)[];

/** The identity claims of `account` for a token granted `scope`. */
export function identityClaims(account: IdentityAccount, scope: string): IdentityClaims {
  const claims: IdentityClaims = { sub: account.id, connector: account.connectorId };
  if (account.hostname !== "") claims.upstream_host = account.hostname;
  const profile = readAccountProfile(account.profile);
  if (hasScope(scope, "email") && profile.email !== undefined) {
    claims.email = profile.email;
    if (profile.email_verified !== undefined) claims.email_verified = profile.email_verified;
  }
  if (hasScope(scope, "profile") && profile.name !== undefined) claims.name = profile.name;
  return claims;
}
