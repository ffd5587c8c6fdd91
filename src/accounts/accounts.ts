/**
 * Accounts: one connection of one end user (or service subject) at one
 * connector, owned by one app. Connecting the same upstream user to the same
 * app again updates the same account (and reactivates it).
 */
import type { Db } from "../db.js";
import type { Keyring } from "../crypto/keyring.js";
import { generateId } from "../crypto/secrets.js";
import { recordAudit } from "../audit.js";
import { storeCredentials, type StoredTokens } from "./vault.js";

export interface UpstreamIdentity {
  subject: string;
  email?: string;
  name?: string;
  profile?: Record<string, unknown>;
}

export interface ConnectAccountInput {
  appId: string;
  connectorId: string;
  hostname?: string;
  pinnedAddress?: string;
  identity: UpstreamIdentity;
  scopes: string[];
  tokens: StoredTokens;
  requestId?: string;
}

export interface ConnectedAccount {
  id: string;
  created: boolean;
  credentialVersion: number;
  credentialExpiresAt: Date | null;
}

/** The public profile kept on an account: what the ID token and the accounts API show. */
function profileOf(identity: UpstreamIdentity): Record<string, string> {
  const profile: Record<string, string> = {};
  if (identity.email) profile.email = identity.email;
  if (identity.name) profile.name = identity.name;
  return profile;
}

/**
 * Creates or updates the account for (app, connector, hostname, subject) and
 * stores its sealed credentials, in one transaction.
 */
export async function connectAccount(db: Db, keyring: Keyring, input: ConnectAccountInput): Promise<ConnectedAccount> {
  const hostname = input.hostname ?? "";
  return db.$transaction(async (tx) => {
    const key = { appId: input.appId, connectorId: input.connectorId, hostname, upstreamSubject: input.identity.subject };
    const existing = await tx.account.findUnique({ where: { appId_connectorId_hostname_upstreamSubject: key }, select: { id: true } });
    const id = existing?.id ?? generateId("acc", 12);
    const fields = {
      profile: profileOf(input.identity),
      status: "active" as const,
      scopes: input.scopes,
      pinnedAddress: input.pinnedAddress ?? null,
      credentialExpiresAt: input.tokens.expiresAt ?? null,
      lastRefreshedAt: new Date(),
      lastError: null,
    };
    // The credential row must exist with the account, so a concurrent first
    // connect of the same user loses the unique race cleanly (P2002) and retries.
    await tx.account.upsert({
      where: { appId_connectorId_hostname_upstreamSubject: key },
      create: { id, ...key, ...fields },
      update: { ...fields, credentialVersion: { increment: 1 } },
    });
    const credentialVersion = await storeCredentials(tx, keyring, id, input.tokens);
    await tx.account.update({ where: { id }, data: { credentialVersion } });
    await recordAudit(tx, {
      action: existing ? "account.reconnected" : "account.connected",
      actorType: "end_user",
      appId: input.appId,
      accountId: id,
      connectorId: input.connectorId,
      requestId: input.requestId,
    });
    return { id, created: !existing, credentialVersion, credentialExpiresAt: fields.credentialExpiresAt };
  });
}
