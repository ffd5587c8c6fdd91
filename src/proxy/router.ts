/**
 * The proxy's routes (DESIGN.md "Proxy"):
 *
 *   ANY /v1/proxy/<path>                         account-bound broker token, scope `proxy`
 *   ANY /v1/accounts/<accountId>/proxy/<path>    token of the owning app (client_credentials), scope `proxy`
 *
 * Mounted before anything that could read a request body: the body is the
 * app's, streamed upstream untouched. The caller is authenticated before
 * a byte of the body is read.
 */
import { Router, type NextFunction, type Request, type Response } from "express";
import type { Services } from "../services.js";
import { toBrokerError } from "../http/error-handler.js";
import { AccountCache } from "./account-cache.js";
import { ProxyAuditLog } from "./audit.js";
import { proxyCall, type ProxyContext } from "./call.js";
import { accountBoundCaller, appCaller, type ProxyCaller } from "./caller.js";
import { DEFAULT_PROXY_OPTIONS, type ProxyOptions } from "./options.js";
import { VerifiedTokens } from "./token-cache.js";

/** The audit logs of the proxies of a Services bag, so shutdown (and tests) can flush them. */
const auditLogs = new WeakMap<Services, ProxyAuditLog>();

/** Writes the proxy audit events still queued for `services` (call at shutdown). */
export async function flushProxyAudit(services: Services): Promise<void> {
  await auditLogs.get(services)?.flush();
}

export function proxyRouter(services: Services, overrides: Partial<ProxyOptions> = {}): Router {
  const options: ProxyOptions = { ...DEFAULT_PROXY_OPTIONS, ...overrides };
  const audit = new ProxyAuditLog(services.db, services.log, { flushMs: options.auditFlushMs, bufferLimit: options.auditBufferLimit });
  auditLogs.set(services, audit);
  const ctx: ProxyContext = { services, options, accounts: new AccountCache(services, options.accountCacheMs), audit, forcedRefreshes: new Map() };
  const tokens = new VerifiedTokens(services);

  const handle = (identify: (req: Request) => Promise<ProxyCaller>) => async (req: Request, res: Response, next: NextFunction) => {
    const startedAt = process.hrtime.bigint();
    let caller: ProxyCaller;
    try {
      caller = await identify(req);
    } catch (err) {
      // Refused before any account is known: counted, not audited (there is no one to attribute it to).
      services.metrics.proxyRequests.inc({ connector: "none", status: String(toBrokerError(err).status) });
      next(err);
      return;
    }
    try {
      // After the mount path, `req.url` is the rest of the raw request target: `/files/1?x=y`.
      await proxyCall(ctx, { req, res, requestId: String(req.id), pathAndQuery: req.url }, caller, startedAt);
    } catch (err) {
      next(err);
    }
  };

  const router = Router();
  router.use(
    "/v1/proxy",
    handle((req) => accountBoundCaller(tokens, req.headers)),
  );
  router.use(
    "/v1/accounts/:accountId/proxy",
    handle((req) => appCaller(tokens, req.headers, String(req.params.accountId))),
  );
  return router;
}
