/**
 * Accounts: one connection of one end user (or service subject) at one
 * connector, owned by one app. Connecting the same upstream user to the same
 * app again updates the same account (and reactivates it).
 */
import type { Db } from "../db.js";
import type { Keyring } from "../crypto/keyring.js";
import { generateId } from "../crypto/secrets.js";
import { enqueueDeliveries, recordAccountEvent, type PendingDelivery } from "../jobs/account-events.js";
import type { UpstreamIdentity } from "../connectors/kinds/types.js";
import type { Logger } from "../log.js";
import type { Services } from "../services.js";
import { AccessDenied } from "../errors.js";
import { userOf } from "./users.js";
import { storeCredentials, type StoredTokens } from "./vault.js";

export interface ConnectAccountInput {
  appId: string;
  connectorId: string;
  hostname?: string;
  pinnedAddress?: string;
  /** Who connected; the upstream's raw profile is not kept. */
  identity: Pick<UpstreamIdentity, "subject" | "email" | "emailVerified" | "name">;
  scopes: string[];
  tokens: StoredTokens;
  requestId?: string;
  /**
   * Connect on demand: the user the new account joins (users.ts). An
   * existing account for the same upstream subject keeps its user, and must
   * be this user's: it is never moved to another.
   */
  userId?: string;
}

export interface ConnectedAccount {
  id: string;
  created: boolean;
  credentialVersion: number;
  credentialExpiresAt: Date | null;
  /** The app's webhook of `account.connected` / `account.reconnected`, written with the account, to enqueue once committed. */
  delivery: PendingDelivery | undefined;
}

/**
 * The public profile kept on an account (its `profile` column): what the ID
 * token and userinfo may show (src/oauth/identity-claims.ts) and the accounts
 * API shows. Keys are the OIDC claim names. `email_verified` was added later:
 * an account stored before has none, which reads as "the upstream said
 * nothing" — never as verified. (A type, not an interface: Prisma's JSON
 * input needs its implicit index signature.)
 */
export type AccountProfile = {
  email?: string;
  /** Only with `email`, and only when the upstream said it (true or false). */
  email_verified?: boolean;
  name?: string;
};

function profileOf(identity: ConnectAccountInput["identity"]): AccountProfile {
  const profile: AccountProfile = {};
  if (identity.email) {
    profile.email = identity.email;
    if (identity.emailVerified !== undefined) profile.email_verified = identity.emailVerified;
  }
  if (identity.name) profile.name = identity.name;
  return profile;
}

/** An account's stored profile, whatever was stored: fields of the wrong type are left out. */
export function readAccountProfile(stored: unknown): AccountProfile {
  if (typeof stored !== "object" || stored === null) return {};
  const { email, email_verified, name } = stored as Record<string, unknown>;
  const profile: AccountProfile = {};
  if (typeof email === "string" && email !== "") {
    profile.email = email;
    if (typeof email_verified === "boolean") profile.email_verified = email_verified;
  }
  if (typeof name === "string" && name !== "") profile.name = name;
  return profile;
}

/**
 * Connect on demand found the upstream account already connected under the
 * app for another user. `access_denied` (redirectable): the connect flow
 * shows it to the end user.
 */
export class AccountOfAnotherUser extends AccessDenied {
  constructor() {
    super("this account is already connected for another user of the app; sign in at the service with your own account");
  }
}

/**
 * Creates or updates the account for (app, connector, hostname, subject) and
 * stores its sealed credentials, in one transaction.
 */
export async function connectAccount(db: Db, keyring: Keyring, input: ConnectAccountInput): Promise<ConnectedAccount> {
  const hostname = input.hostname ?? "";
  return db.$transaction(async (tx) => {
    const key = { appId: input.appId, connectorId: input.connectorId, hostname, upstreamSubject: input.identity.subject };
    const existing = await tx.account.findUnique({ where: { appId_connectorId_hostname_upstreamSubject: key }, select: { id: true, userId: true } });
    // One upstream account is one user's: linking it to another user would hand that user's agents its credentials.
    if (existing && input.userId !== undefined && userOf(existing) !== input.userId) throw new AccountOfAnotherUser();
    const id = existing?.id ?? generateId("acc", 12);
    const fields = {
      profile: profileOf(input.identity),
      status: "active" as const,
      scopes: input.scopes,
      pinnedAddress: input.pinnedAddress ?? null,
      credentialExpiresAt: input.tokens.expiresAt ?? null,
      credentialExpirySource: input.tokens.expiresAt ? (input.tokens.expirySource ?? null) : null,
      lastRefreshedAt: new Date(),
      lastError: null,
    };
    // The credential row must exist with the account, so a concurrent first
    // connect of the same user loses the unique race cleanly (P2002) and retries.
    await tx.account.upsert({
      where: { appId_connectorId_hostname_upstreamSubject: key },
      create: { id, ...key, ...fields, userId: input.userId ?? null },
      update: { ...fields, credentialVersion: { increment: 1 } },
    });
    const credentialVersion = await storeCredentials(tx, keyring, id, input.tokens);
    await tx.account.update({ where: { id }, data: { credentialVersion } });
    const delivery = await recordAccountEvent(tx, {
      type: existing ? "account.reconnected" : "account.connected",
      accountId: id,
      actorType: "end_user",
      requestId: input.requestId,
    });
    return { id, created: !existing, credentialVersion, credentialExpiresAt: fields.credentialExpiresAt, delivery };
  });
}

/**
 * Stores a connected account with its sealed credentials and plans its
 * refresh: the one way a connect stores an account, whichever page or
 * callback ended it. Scheduling failures do not fail the connect: the
 * reconciler plans every active account's refresh.
 */
export async function storeConnectedAccount(
  services: Pick<Services, "db" | "keyring" | "queues">,
  input: ConnectAccountInput & { refreshMarginSeconds: number },
  log: Logger,
): Promise<ConnectedAccount> {
  const { refreshMarginSeconds, ...account } = input;
  const stored = await connectAccount(services.db, services.keyring, account);
  log.info({ clientId: input.appId, connectorId: input.connectorId, accountId: stored.id, created: stored.created }, "account connected");
  await enqueueDeliveries(services, [stored.delivery], log);
  await services.queues
    .scheduleRefresh(stored.id, stored.credentialExpiresAt, refreshMarginSeconds)
    .catch((err: Error) => log.warn({ accountId: stored.id, err: { message: err.message } }, "could not schedule the refresh; the reconciler will"));
  return stored;
}
