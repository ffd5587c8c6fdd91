/**
 * The proxy's two routes (the route table declares them, src/routes.ts; docs/proxy.md):
 *
 *   ANY /v1/proxy/<path>                         account-bound broker token, scope `proxy`
 *   ANY /v1/accounts/<accountId>/proxy/<path>    token of the owning app (client_credentials), scope `proxy`
 *
 * Direct routes: the proxy is a hot path, and nothing may read the body
 * before it does — the body is the app's, streamed upstream untouched. The
 * caller is authenticated (the routes' authenticators, caller.ts) before a
 * byte of the body is read.
 */
import type { Services } from "../services.js";
import { toBrokerError } from "../http/error-handler.js";
import type { Authenticator, Exchange } from "../http/route.js";
import { AccountCache } from "./account-cache.js";
import { ProxyAuditLog } from "./audit.js";
import { proxyCall, type ProxyContext } from "./call.js";
import { accountBoundCaller, appCaller, type ProxyCaller } from "./caller.js";
import { DEFAULT_PROXY_OPTIONS, type ProxyOptions } from "./options.js";
import { OutboundRateLimiter } from "./rate-limit.js";

/** The audit logs of the proxies of a Services bag, so shutdown (and tests) can flush them. */
const auditLogs = new WeakMap<Services, ProxyAuditLog>();

/** Writes the proxy audit events still queued for `services` (call at shutdown). */
export async function flushProxyAudit(services: Services): Promise<void> {
  await auditLogs.get(services)?.flush();
}

export interface Proxy {
  /** `/v1/proxy/…`: the account comes from the token. */
  accountBound: Authenticator<ProxyCaller>;
  /** `/v1/accounts/<id>/proxy/…`: a token of the app itself, or one bound to this very account. */
  forAccount: Authenticator<ProxyCaller>;
  /** Forwards the call for the authenticated caller. */
  handle(exchange: Exchange<ProxyCaller>): Promise<void>;
}

export function createProxy(services: Services, overrides: Partial<ProxyOptions> = {}): Proxy {
  const options: ProxyOptions = { ...DEFAULT_PROXY_OPTIONS, ...overrides };
  const audit = new ProxyAuditLog(services.db, services.log, {
    flushMs: options.auditFlushMs,
    batchEvents: options.auditBatchEvents,
    bufferLimit: options.auditBufferLimit,
  });
  auditLogs.set(services, audit);
  const ctx: ProxyContext = {
    services,
    options,
    accounts: new AccountCache(services, options.accountCacheMs),
    audit,
    limiter: new OutboundRateLimiter(services.redis, services.log),
    rateLimitMaxWaitMs: services.config.proxyRateLimitMaxWaitMs,
    forcedRefreshes: new Map(),
  };

  // Refused before any account is known: counted, not audited (there is no one to attribute it to).
  const countRefusal = (err: unknown): never => {
    services.metrics.proxyRequests.series("none", String(toBrokerError(err).status)).inc();
    throw err;
  };
  // Without a promise when the caller is known at once (a token verified lately: caller.ts).
  const counted = (name: string, identify: Authenticator<ProxyCaller>["authenticate"]): Authenticator<ProxyCaller> => ({
    name,
    authenticate: (req, params) => {
      try {
        const caller = identify(req, params);
        return caller instanceof Promise ? caller.catch(countRefusal) : caller;
      } catch (err) {
        return countRefusal(err);
      }
    },
  });

  return {
    accountBound: counted("bearer proxy (account-bound)", (req) => accountBoundCaller(services, req.headers)),
    forAccount: counted("bearer proxy (the owning app, or the account's own)", (req, params) => appCaller(services, req.headers, params.id!)),
    handle: (exchange) =>
      proxyCall(
        ctx,
        { req: exchange.req, res: exchange.res, requestId: exchange.requestId, log: () => exchange.log, pathAndQuery: exchange.rest },
        exchange.caller,
        exchange.startedAt,
      ),
  };
}
