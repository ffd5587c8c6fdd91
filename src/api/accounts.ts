/**
 * The accounts API for apps: `GET /v1/accounts`, `GET /v1/accounts/<id>`,
 * `DELETE /v1/accounts/<id>`. An app's own token (client_credentials) sees
 * every account the app owns; an account-bound token sees only its account.
 * Reading needs `accounts:read`, deleting `accounts:write`. Accounts of other
 * apps answer 404, so their ids cannot be probed.
 */
import type { Request } from "express";
import { sendJson } from "../http/json.js";
import type { ExpressExchange } from "../http/route.js";
import { z } from "zod";
import type { Services } from "../services.js";
import { NotFound, ValidationFailed } from "../errors.js";
import type { AccessTokenClaims } from "../oauth/tokens.js";
import { accountView, endAccount } from "../accounts/lifecycle.js";

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(64).optional(),
  connector: z.string().max(64).optional(),
  status: z.enum(["active", "needs_reauth", "revoked", "error"]).optional(),
});

function parseQuery<T extends z.ZodType>(schema: T, req: Request): z.infer<T> {
  const parsed = schema.safeParse(req.query);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationFailed(`${issue.path.join(".") || "query"}: ${issue.message}`);
  }
  return parsed.data;
}

/** The account a token may see: only its own for an account-bound token, any of the app's otherwise. */
async function findVisibleAccount(services: Services, claims: AccessTokenClaims, accountId: string) {
  if (claims.acct !== undefined && claims.acct !== accountId) throw new NotFound(`account ${accountId} does not exist`);
  const account = accountId.length <= 64 ? await services.db.account.findUnique({ where: { id: accountId } }) : null;
  if (!account || account.appId !== claims.client_id) throw new NotFound(`account ${accountId} does not exist`);
  return account;
}

/** `GET /v1/accounts` (scope `accounts:read`): an app token lists the app's accounts, an account-bound token only its own. */
export function listAccounts(services: Services): (exchange: ExpressExchange<AccessTokenClaims>) => Promise<void> {
  return async ({ req, res, caller: claims }) => {
    const query = parseQuery(listQuery, req);
    const rows = await services.db.account.findMany({
      where: {
        appId: claims.client_id,
        // Conditions on `id` are combined, never spread into one key: a cursor must not
        // replace the account binding of a user's token (it once listed the app's other accounts).
        AND: [claims.acct !== undefined ? { id: claims.acct } : {}, query.cursor ? { id: { gt: query.cursor } } : {}],
        ...(query.connector ? { connectorId: query.connector } : {}),
        ...(query.status ? { status: query.status } : {}),
      },
      orderBy: { id: "asc" },
      take: query.limit + 1,
    });
    const page = rows.slice(0, query.limit);
    res.setHeader("Cache-Control", "no-store");
    sendJson(res, 200, { data: page.map(accountView), next_cursor: rows.length > query.limit ? page[page.length - 1]!.id : null });
  };
}

/** `GET /v1/accounts/<id>` (scope `accounts:read`). */
export function getAccount(services: Services): (exchange: ExpressExchange<AccessTokenClaims>) => Promise<void> {
  return async ({ res, params, caller: claims }) => {
    const account = await findVisibleAccount(services, claims, params.id!);
    res.setHeader("Cache-Control", "no-store");
    sendJson(res, 200, accountView(account));
  };
}

/** `DELETE /v1/accounts/<id>` (scope `accounts:write`): revokes upstream and the account's broker grants, then forgets it. */
export function deleteAccount(services: Services): (exchange: ExpressExchange<AccessTokenClaims>) => Promise<void> {
  return async ({ res, params, requestId, caller: claims }) => {
    const account = await findVisibleAccount(services, claims, params.id!);
    const result = await endAccount(services, account.id, { actorType: "app", actorId: claims.client_id, requestId }, { remove: true });
    sendJson(res, 200, { id: account.id, deleted: true, upstream_revoked: result.upstreamRevoked, grants_revoked: result.grantsRevoked });
  };
}
