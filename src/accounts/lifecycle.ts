/**
 * Ending an account, for apps (`DELETE /v1/accounts/<id>`), operators (admin
 * API, `authbroker accounts revoke`) and nobody else: revoke the upstream
 * tokens where the upstream supports revocation (RFC 7009), remove the sealed
 * credentials, revoke every broker grant bound to the account (so its access
 * and refresh tokens stop working at once), stop its refresh schedule, and
 * leave an audit event (a deleted account's is an `account.deleted` event,
 * which its app's webhook hears of).
 */
import type { Services } from "../services.js";
import { recordAudit, type AuditEventInput } from "../audit.js";
import { enqueueDeliveries, recordAccountEvent } from "../jobs/account-events.js";
import { buildKindContext } from "../connectors/context.js";
import { isRevoker } from "../connectors/kinds/types.js";
import { EXPIRY_SOURCES, type ExpirySource } from "../connectors/token-expiry.js";
import { NotFound } from "../errors.js";
import { revokeAccountGrants } from "../revocation/revocation.js";
import { readCredentials } from "./vault.js";

export interface AccountView {
  id: string;
  app_id: string;
  connector: string;
  hostname: string | null;
  status: string;
  upstream_subject: string;
  profile: Record<string, unknown>;
  scopes: string[];
  credential_expires_at: string | null;
  /** Where `credential_expires_at` came from: `expires_in` (the upstream said), `jwt_exp`, `connector_default` or `probe` (inferred). */
  credential_expiry_source: ExpirySource | null;
  last_refreshed_at: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

export function accountView(a: {
  id: string;
  appId: string;
  connectorId: string;
  hostname: string;
  status: string;
  upstreamSubject: string;
  profile: unknown;
  scopes: string[];
  credentialExpiresAt: Date | null;
  credentialExpirySource: string | null;
  lastRefreshedAt: Date | null;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
}): AccountView {
  return {
    id: a.id,
    app_id: a.appId,
    connector: a.connectorId,
    hostname: a.hostname || null,
    status: a.status,
    upstream_subject: a.upstreamSubject,
    profile: (a.profile ?? {}) as Record<string, unknown>,
    scopes: a.scopes,
    credential_expires_at: a.credentialExpiresAt?.toISOString() ?? null,
    credential_expiry_source: expirySourceOf(a),
    last_refreshed_at: a.lastRefreshedAt?.toISOString() ?? null,
    last_error: a.lastError,
    created_at: a.createdAt.toISOString(),
    updated_at: a.updatedAt.toISOString(),
  };
}

/** Where an account's credential expiry came from, as stored; null when it has no expiry (or a value this broker does not know). */
export function expirySourceOf(a: { credentialExpiresAt: Date | null; credentialExpirySource: string | null }): ExpirySource | null {
  if (!a.credentialExpiresAt) return null;
  return (EXPIRY_SOURCES as readonly string[]).includes(a.credentialExpirySource ?? "") ? (a.credentialExpirySource as ExpirySource) : null;
}

export interface EndAccountResult {
  accountId: string;
  upstreamRevoked: boolean;
  grantsRevoked: number;
}

type Actor = Pick<AuditEventInput, "actorType" | "actorId" | "requestId">;

/** Revokes upstream and broker tokens; the account stays, `revoked`, without credentials. With `remove`, the row goes too. */
export async function endAccount(services: Services, accountId: string, actor: Actor, options: { remove: boolean }): Promise<EndAccountResult> {
  const account = await services.db.account.findUnique({ where: { id: accountId } });
  if (!account) throw new NotFound(`account ${accountId} does not exist`);
  const upstreamRevoked = await revokeUpstream(services, account).catch((err: Error) => {
    // Best effort: the upstream may be down; the broker still forgets the tokens.
    services.log.warn({ accountId, err: { message: err.message } }, "upstream token revocation failed");
    return false;
  });
  const grantsRevoked = await revokeAccountGrants(services, accountId, options.remove ? "account_deleted" : "account_revoked", { requestId: actor.requestId });
  await services.queues.cancelRefresh(accountId).catch(() => undefined);
  const delivery = await services.db.$transaction(async (tx) => {
    await tx.credential.deleteMany({ where: { accountId } });
    if (options.remove) {
      // The event reads the account: made before the row goes, in the same transaction.
      const deleted = await recordAccountEvent(tx, { ...actor, type: "account.deleted", accountId, detail: { upstream_revoked: upstreamRevoked } });
      await tx.account.delete({ where: { id: accountId } });
      return deleted;
    }
    await tx.account.update({ where: { id: accountId }, data: { status: "revoked", credentialExpiresAt: null } });
    await recordAudit(tx, {
      ...actor,
      action: "account.revoked",
      appId: account.appId,
      accountId,
      connectorId: account.connectorId,
      detail: { upstreamRevoked, grantsRevoked },
    });
    return undefined;
  });
  await enqueueDeliveries(services, [delivery], services.log);
  return { accountId, upstreamRevoked, grantsRevoked };
}

async function revokeUpstream(
  services: Services,
  account: { id: string; appId: string; connectorId: string; hostname: string; pinnedAddress: string | null; scopes: string[] },
): Promise<boolean> {
  const connector = services.connectors.get(account.connectorId);
  if (!connector) return false;
  const kind = services.kinds.for(connector);
  if (!isRevoker(kind)) return false;
  const credentials = await readCredentials(services.db, services.keyring, account.id);
  if (!credentials) return false;
  const context = await buildKindContext(services, {
    connector,
    appId: account.appId,
    upstreamScopes: account.scopes,
    hostname: account.hostname || undefined,
    pinned: account.pinnedAddress ? { address: account.pinnedAddress, family: account.pinnedAddress.includes(":") ? 6 : 4 } : undefined,
  });
  // Revoking the refresh token revokes the grant at most upstreams (RFC 7009 §2.1); the access token too where it is separate.
  let revoked = false;
  if (credentials.refreshToken) revoked = (await kind.revoke(context, credentials.refreshToken, "refresh_token")) || revoked;
  if (credentials.accessToken) revoked = (await kind.revoke(context, credentials.accessToken, "access_token")) || revoked;
  return revoked;
}
