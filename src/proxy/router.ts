/**
 * The proxy's routes (docs/proxy.md):
 *
 *   ANY /v1/proxy/<path>                         account-bound broker token, scope `proxy`
 *   ANY /v1/accounts/<accountId>/proxy/<path>    token of the owning app (client_credentials), scope `proxy`
 *
 * Answered before express (direct mounts, src/http/direct-routes.ts): the
 * proxy is a hot path, and nothing may read the body before it does: the
 * body is the app's, streamed upstream untouched. The caller is
 * authenticated before a byte of the body is read.
 */
import { Router } from "express";
import type { Services } from "../services.js";
import { toBrokerError } from "../http/error-handler.js";
import type { HttpPart } from "../http/app.js";
import type { DirectExchange, DirectMount } from "../http/direct-routes.js";
import { AccountCache } from "./account-cache.js";
import { ProxyAuditLog } from "./audit.js";
import { proxyCall, type ProxyContext } from "./call.js";
import { accountBoundCaller, appCaller, type ProxyCaller } from "./caller.js";
import { DEFAULT_PROXY_OPTIONS, type ProxyOptions } from "./options.js";

/** The audit logs of the proxies of a Services bag, so shutdown (and tests) can flush them. */
const auditLogs = new WeakMap<Services, ProxyAuditLog>();

/** Writes the proxy audit events still queued for `services` (call at shutdown). */
export async function flushProxyAudit(services: Services): Promise<void> {
  await auditLogs.get(services)?.flush();
}

export function proxyRouter(services: Services, overrides: Partial<ProxyOptions> = {}): HttpPart {
  const options: ProxyOptions = { ...DEFAULT_PROXY_OPTIONS, ...overrides };
  const audit = new ProxyAuditLog(services.db, services.log, { flushMs: options.auditFlushMs, bufferLimit: options.auditBufferLimit });
  auditLogs.set(services, audit);
  const ctx: ProxyContext = { services, options, accounts: new AccountCache(services, options.accountCacheMs), audit, forcedRefreshes: new Map() };

  const handle =
    (identify: (exchange: DirectExchange, params: string[]) => Promise<ProxyCaller>) => async (exchange: DirectExchange, rest: string, params: string[]) => {
      const startedAt = process.hrtime.bigint();
      let caller: ProxyCaller;
      try {
        caller = await identify(exchange, params);
      } catch (err) {
        // Refused before any account is known: counted, not audited (there is no one to attribute it to).
        services.metrics.proxyRequests.inc({ connector: "none", status: String(toBrokerError(err).status) });
        throw err;
      }
      await proxyCall(
        ctx,
        { req: exchange.req, res: exchange.res, requestId: exchange.requestId, log: () => exchange.log, pathAndQuery: rest },
        caller,
        startedAt,
      );
    };

  // Every request under these paths is answered before express (src/http/direct-routes.ts): the proxy is a hot path.
  const mounts: DirectMount[] = [
    { mount: /\/v1\/proxy/, handle: handle(({ req }) => accountBoundCaller(services, req.headers)) },
    { mount: /\/v1\/accounts\/([^/?]+)\/proxy/, handle: handle(({ req }, [accountId]) => appCaller(services, req.headers, accountId!)) },
  ];
  return { router: Router(), mounts };
}
