/**
 * One proxied call, as a list of named steps:
 *
 *  1. `resolveAccount`   the account the caller may act for, its connector and credentials;
 *  2. `targetUrl`        the upstream URL (never outside `api.baseUrl`), then its checked address;
 *  3. `needsRefresh`     credentials that are expired are refreshed first (single-flight);
 *  4. `takeSlot`         a slot of the connector's declared upstream rate limits, if any, waited for
 *                        when the app allows (`Prefer: wait`), else 429 (rate-limit.ts);
 *     `exchange`         the request goes upstream through undici, bodies streamed; an answer that
 *                        asks for a pause holds off every process (`noteUpstreamHold`);
 *  5. `refreshAfter401`  on 401: one single-flight refresh, then one retry if the body can be sent again;
 *     a 401 with nothing newer to try is reported to the app (`reportRevokedUpstream`);
 *  6. `relay`            status, end-to-end headers and body stream back to the app.
 *
 * The common call (account cached, address known, credentials valid, no
 * body to read, no declared rate limits) runs steps 1–4 without a turn of
 * the event loop: each step that may wait is awaited only when it must.
 *
 * Errors before the response starts are thrown as BrokerErrors and rendered
 * by the one error handler (`{ error, error_description, request_id }`).
 * Once the upstream's status line has been sent to the app, a failure can
 * only cut the connection (the app sees a truncated body, never a second
 * response).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../log.js";
import type { Dispatcher } from "undici";
import { refreshAccount, AccountNeedsReauth } from "../accounts/refresh.js";
import { userOf } from "../accounts/users.js";
import { connectElicitation } from "../oauth/connect-tickets.js";
import { readCredentials } from "../accounts/vault.js";
import { emitAccountEvent } from "../jobs/account-events.js";
import { insecureHostAllowed } from "../connectors/context.js";
import { ConnectorNotConfigured } from "../connectors/errors.js";
import type { ConnectorConfig } from "../connectors/schema.js";
import { fillTemplate, isPerServer } from "../connectors/template.js";
import { serverHost } from "../connectors/host.js";
import { checkedValueOrigin } from "../connectors/kinds/upstream-values.js";
import { valueNamesIn } from "../connectors/schema-values.js";
import { BadRequest, BrokerError, NotFound, UpstreamError, UpstreamRateLimited } from "../errors.js";
import { toBrokerError } from "../http/error-handler.js";
import type { CheckedAddress } from "../net/outbound.js";
import type { Services } from "../services.js";
import type { AccountCache, CachedAccount, OpenedCredentials, ProxyAccount } from "./account-cache.js";
import type { ProxyAuditLog } from "./audit.js";
import type { ProxyCaller } from "./caller.js";
import { connectorPlan, type ConnectorPlan } from "./connector-plan.js";
import type { CredentialStyle } from "../connectors/credential-styles.js";
import { downstreamResponseHeaders, upstreamRequestHeaders } from "./headers.js";
import type { ProxyOptions } from "./options.js";
import { isReplayable, readRequestBody, requestBodyAtHand, type ProxyRequestBody } from "./request-body.js";
import { preferredWaitSeconds, upstreamHoldMs } from "./rate-headers.js";
import type { OutboundRateLimiter, RateRules } from "./rate-limit.js";
import { namedBaseOf, proxyTargetUrl } from "./target-url.js";
import { upstreamFailure } from "./upstream-failure.js";
import { UpstreamAnswer } from "./upstream-answer.js";

/** What the proxy keeps for the life of the process. */
export interface ProxyContext {
  services: Services;
  options: ProxyOptions;
  accounts: AccountCache;
  audit: ProxyAuditLog;
  /** The connectors' declared upstream rate limits, shared through Redis. */
  limiter: OutboundRateLimiter;
  /** The longest a call waits for a rate-limit slot when its app allows (PROXY_RATE_LIMIT_MAX_WAIT_MS). */
  rateLimitMaxWaitMs: number;
  /** Per account: the credential version a 401 made us refresh to, and when (see `refreshAfter401`). */
  forcedRefreshes: Map<string, { version: number; at: number }>;
}

/** After a refresh forced by a 401, the same credentials are not refreshed again for this long. */
const FORCED_REFRESH_COOLDOWN_MS = 30_000;

/** Status recorded for a call whose app went away before any response. */
const CLIENT_CLOSED = 499;

interface ResolvedAccount {
  account: ProxyAccount;
  connector: ConnectorConfig;
  plan: ConnectorPlan;
  /** Replaced when a refresh brings a value the account lacked (targetAfterRefresh). */
  credentials: OpenedCredentials;
}

interface Target {
  url: URL;
  checked: CheckedAddress;
}

/** What a wait or an upstream exchange is abandoned with when the app goes away. */
const appWentAway = () => new Error("the app went away");

/**
 * The app going away: aborts the upstream exchange in flight, and any wait
 * for a rate-limit slot (`pause`). A plain object rather than an
 * EventEmitter: one is made per call, and a call waits for one thing at a time.
 */
class AppGone {
  aborted = false;
  /** The exchange in flight, if any. */
  answer: UpstreamAnswer | undefined;
  /** The wait in progress, if any. */
  waiter: (() => void) | undefined;
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.answer?.abort(appWentAway());
    this.waiter?.();
  }
}

/** What one call did, for metrics, audit and logs. */
interface CallRecord {
  /** The connector's plan, once the account is known. */
  plan: ConnectorPlan | undefined;
  status: number;
  retried: boolean;
  upstreamSeconds: number;
  /** Time spent waiting for rate-limit slots: the app's choice, not the broker's overhead. */
  waitedSeconds: number;
  /** `Preference-Applied` for the app, when its `Prefer: wait` was used. */
  preferenceApplied: string | undefined;
  /** The user of the account, once it is known (accounts/users.ts). */
  userId: string | undefined;
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

// ── 1. the account ──────────────────────────────────────────────────────────

function resolveAccount(ctx: ProxyContext, caller: ProxyCaller, record: CallRecord, found: CachedAccount | undefined): ResolvedAccount {
  // An account of another app is answered exactly like one that does not exist: ids are not confirmed to strangers.
  if (!found || found.account.appId !== caller.appId) throw new NotFound(`no account ${caller.accountId}`);
  const { account, credentials } = found;
  record.userId = userOf(account);
  if (caller.claims.connector !== undefined && caller.claims.connector !== account.connectorId) throw new NotFound(`no account ${caller.accountId}`);
  if (account.status === "needs_reauth" || account.status === "revoked") throw new AccountNeedsReauth(account.id);
  const connector = ctx.services.connectors.get(account.connectorId);
  if (!connector) throw new ConnectorNotConfigured(account.connectorId, `connector "${account.connectorId}" of account ${account.id} is no longer configured`);
  if (!connector.api) throw new NotFound(`${connector.name} has no API the broker can proxy to`);
  if (!credentials) throw new AccountNeedsReauth(account.id);
  return { account, connector, plan: connectorPlan(ctx.services, connector), credentials };
}

// ── 2. the target ───────────────────────────────────────────────────────────

/**
 * The upstream URL of the call; undefined when the account lacks a value its
 * base needs (it was connected before its file named it: targetAfterRefresh).
 */
function targetUrl(ctx: ProxyContext, { account, connector, plan, credentials }: ResolvedAccount, pathAndQuery: string): URL | undefined {
  let url: URL;
  try {
    // `@<name>` first: one of the connector's other bases (api.bases); anything else is under api.baseUrl.
    const named = namedBaseOf(pathAndQuery);
    if (named) {
      url = proxyTargetUrl(accountBaseUrl(connector, namedBaseTemplate(connector, named.name), account, credentials), named.rest);
    } else {
      const baseUrl = plan.templatedBase ? accountBaseUrl(connector, connector.api!.baseUrl, account, credentials) : connector.api!.baseUrl;
      url = proxyTargetUrl(baseUrl, pathAndQuery);
    }
  } catch (err) {
    if (err instanceof MissingValue) return undefined;
    throw err;
  }
  // Credentials in clear text only to hosts the operator allowed (development and tests), as for every upstream call.
  if (url.protocol === "http:" && !insecureHostAllowed(url.hostname, ctx.services.config.allowPrivateHosts)) {
    throw new ConnectorNotConfigured(
      connector.id,
      `connector "${connector.id}" uses http://${url.host}, which is allowed only for addresses in BROKER_ALLOW_PRIVATE_HOSTS`,
    );
  }
  return url;
}

/**
 * An account stored before its file named a value (Salesforce's instance_url):
 * a refresh whose response carries it again stores it; without one, the
 * account must connect again.
 */
async function targetAfterRefresh(ctx: ProxyContext, resolved: ResolvedAccount, pathAndQuery: string, requestId: string): Promise<URL> {
  if (!resolved.plan.canRefresh) throw new AccountNeedsReauth(resolved.account.id);
  resolved.credentials = await refreshFrom(ctx, resolved.account, resolved.credentials, requestId);
  const url = targetUrl(ctx, resolved, pathAndQuery);
  if (!url) throw new AccountNeedsReauth(resolved.account.id);
  return url;
}

/**
 * What the URL's host is checked as: per-server accounts go to the address
 * their hostname was checked to resolve to when it was connected (no DNS
 * rebinding), checked again against the current policy. A base on another
 * host (an origin value, Salesforce's instance URL) is resolved under the
 * policy on each call.
 */
function hostToCheck({ account, connector }: ResolvedAccount, url: URL): string {
  return isPerServer(connector) && account.pinnedAddress && url.host === serverHost(account.hostname) ? account.pinnedAddress : url.hostname;
}

/** One of the connector's other bases (api.bases), or a clear refusal naming the ones it has. */
function namedBaseTemplate(connector: ConnectorConfig, name: string): string {
  const bases = connector.api!.bases;
  if (Object.hasOwn(bases, name)) return bases[name]!;
  const known = Object.keys(bases);
  throw new BadRequest(
    `${connector.name} has no API base "@${name.slice(0, 64)}"` + (known.length > 0 ? `; its bases are ${known.map((b) => `@${b}`).join(", ")}` : ""),
  );
}

/**
 * The account's own base URL: `{hostname}` and `{values.…}` filled. An origin
 * value is checked again against the file's `hosts` (they may have been
 * narrowed since the account connected).
 */
function accountBaseUrl(connector: ConnectorConfig, template: string, account: ProxyAccount, credentials: OpenedCredentials): string {
  if (!template.includes("{")) return template;
  const values = credentials.values;
  for (const [name, spec] of Object.entries(connector.values)) {
    const value = values?.[name];
    if (spec.as !== "origin" || value === undefined) continue;
    const checked = checkedValueOrigin(spec.hosts, value, true);
    if ("problem" in checked) throw new UpstreamError(`the account's ${name} ${checked.problem}: connect the account again`);
  }
  for (const name of valueNamesIn(template)) if (values?.[name] === undefined) throw new MissingValue();
  return fillTemplate(template, { hostname: account.hostname || undefined, values, pathPrefix: connector.hostname?.pathPrefix });
}

/** The account has no value the base needs: it was connected before its file named it. */
class MissingValue extends Error {}

// ── 3. credentials that are not expired ─────────────────────────────────────

/** Runs the shared single-flight refresh; the cache takes the result. Non-broker failures become 502. */
async function refreshFrom(
  ctx: ProxyContext,
  account: ProxyAccount,
  stale: OpenedCredentials,
  requestId: string,
  options: { refused?: boolean } = {},
): Promise<OpenedCredentials> {
  try {
    const refusedAccessToken = options.refused ? stale.accessToken : undefined;
    const result = await refreshAccount(ctx.services, account.id, { staleVersion: stale.version, refusedAccessToken, requestId });
    ctx.accounts.updateCredentials(account.id, result.credentials);
    return result.credentials;
  } catch (err) {
    if (err instanceof AccountNeedsReauth) ctx.accounts.invalidate(account.id);
    if (err instanceof BrokerError) throw err;
    throw new UpstreamError("the account's credentials could not be refreshed", { cause: err });
  }
}

/** Whether the credentials expire within the skew and the connector's kind can refresh them. */
function needsRefresh(ctx: ProxyContext, { credentials, plan }: ResolvedAccount): boolean {
  const expiresAt = credentials.expiresAt?.getTime();
  return expiresAt !== undefined && expiresAt - Date.now() <= ctx.options.refreshSkewSeconds * 1000 && plan.canRefresh;
}

/**
 * The connector's `headers` (lower-cased by the schema, as node gives an app's) replace the app's
 * of the same name: they are what the provider requires of every client (Reddit's User-Agent).
 */
function withConnectorHeaders(connector: ConnectorConfig, headers: Record<string, string | string[]>): Record<string, string | string[]> {
  for (const name in connector.headers) headers[name] = connector.headers[name]!;
  return headers;
}

// ── 4. the upstream's rate limits, and the exchange ─────────────────────────

/** Resolves after `ms`, or rejects as soon as the app goes away (its slot is then left unused). */
function pause(ms: number, appGone: AppGone): Promise<void> {
  return new Promise((resolve, reject) => {
    if (appGone.aborted) return reject(appWentAway());
    const timer = setTimeout(() => {
      appGone.waiter = undefined;
      resolve();
    }, ms);
    appGone.waiter = () => {
      clearTimeout(timer);
      reject(appWentAway());
    };
  });
}

/**
 * Takes a slot of the connector's declared limits (called only when it
 * declares some: the others never ask Redis). The app may allow a wait with RFC 7240
 * `Prefer: wait=<seconds>`, bounded by the operator; a call that would wait
 * longer, or whose app allowed none, is refused with the wait as Retry-After.
 */
async function takeSlot(
  ctx: ProxyContext,
  resolved: ResolvedAccount,
  rules: RateRules,
  prefer: string | string[] | undefined,
  record: CallRecord,
  appGone: AppGone,
): Promise<void> {
  const { plan } = resolved;
  const preferred = preferredWaitSeconds(prefer);
  const maxWaitMs = preferred === undefined ? 0 : Math.min(preferred * 1000, ctx.rateLimitMaxWaitMs);
  const decision = await ctx.limiter.take(rules, resolved.account.id, maxWaitMs);
  if (!decision.go) {
    plan.countRateLimited("refused");
    const retryAfter = Math.max(1, Math.ceil(decision.waitMs / 1000));
    throw new UpstreamRateLimited(`${resolved.connector.name} takes no more calls for now: try again in ${retryAfter} seconds`, {
      headers: { "Retry-After": String(retryAfter) },
      detail: `a slot frees in ${decision.waitMs} ms; the app allowed a wait of ${maxWaitMs} ms`,
    });
  }
  if (decision.waitMs <= 0) return;
  plan.countRateLimited("waited");
  record.waitedSeconds += decision.waitMs / 1000;
  record.preferenceApplied = `wait=${preferred}`;
  await pause(decision.waitMs, appGone);
}

/**
 * An upstream answer that asks for no calls for a while (Retry-After on a
 * 429 or 503, a rate-limit header with nothing remaining) holds off every
 * process's calls of the connector (or the account, when a limit is per
 * account). Called only for connectors that declare limits: the others never ask
 * Redis. Waited for, so the app's next call already sees it.
 */
async function noteUpstreamHold(ctx: ProxyContext, resolved: ResolvedAccount, rules: RateRules, upstream: UpstreamAnswer): Promise<void> {
  const { plan } = resolved;
  const holdMs = upstreamHoldMs(upstream.statusCode, upstream.headers, Date.now());
  if (holdMs <= 0) return;
  plan.countRateLimited("upstream_hold");
  await ctx.limiter.hold(rules, resolved.account.id, holdMs);
}

interface Outgoing {
  /** The connector's name, for the app's error when the upstream fails. */
  connectorName: string;
  method: string;
  headers: Record<string, string | string[]>;
  body: ProxyRequestBody;
  appGone: AppGone;
}

/**
 * Puts the credential in and sends the request upstream; settles with the
 * upstream's status and headers, its body not yet read (upstream-answer.ts).
 * A failure is the upstream's (502/504, upstream-failure.ts), unless the
 * app went away first; a BrokerError (no usable credential) passes as it is.
 */
async function exchange(
  ctx: ProxyContext,
  target: Target,
  style: CredentialStyle,
  credentials: OpenedCredentials,
  outgoing: Outgoing,
  record: CallRecord,
): Promise<UpstreamAnswer> {
  let started: bigint | undefined;
  try {
    // A copy per attempt (a retry injects fresh credentials). Copied property
    // by property, not spread: V8 gave each spread copy a hidden class of its
    // own, so every call built new maps and enum caches in the old generation
    // (a third of the proxy's old-space growth under load; docs/benchmarks.md).
    const headers: Record<string, string | string[]> = {};
    for (const name in outgoing.headers) headers[name] = outgoing.headers[name]!;
    const { body } = outgoing;
    const credentialTarget = { headers, search: target.url.search, method: outgoing.method, url: target.url, body };
    const signing = style.inject(credentialTarget, credentials);
    if (signing) await signing;
    if (body.kind === "stream" && body.length !== undefined) headers["content-length"] = String(body.length);
    const appGone = outgoing.appGone;
    const answer = new UpstreamAnswer(() => (appGone.aborted ? appWentAway() : undefined));
    appGone.answer = answer;
    // URL's origin getter builds a new string each time.
    const origin = target.url.origin;
    started = process.hrtime.bigint();
    ctx.services.outbound.dispatcherFor(origin, target.checked).dispatch(
      {
        origin,
        path: `${target.url.pathname}${credentialTarget.search}`,
        method: outgoing.method as Dispatcher.HttpMethod,
        headers,
        body: body.kind === "none" ? null : body.kind === "buffered" ? body.bytes : body.stream,
        headersTimeout: ctx.options.headersTimeoutMs,
        bodyTimeout: ctx.options.bodyTimeoutMs,
      },
      answer,
    );
    return await answer.started;
  } catch (err) {
    throw outgoing.appGone.aborted ? err : upstreamFailure(err, outgoing.connectorName);
  } finally {
    if (started !== undefined) {
      const elapsed = seconds(started);
      record.upstreamSeconds += elapsed;
      record.plan?.observeUpstream(elapsed);
    }
  }
}

// ── 5. after a 401 ──────────────────────────────────────────────────────────

/**
 * RFC 6750 §3.1: a 401 from the upstream usually means the access token was
 * revoked or expired early. One refresh (shared with every concurrent call
 * for the account, and with the worker) gets new credentials; returns them
 * when they differ from the ones refused, undefined when there is nothing
 * newer to try. A 401 for the credentials a 401 already made us refresh to,
 * less than 30 s ago, is the upstream's final word: no refresh is made
 * (only newer stored credentials, from a reconnect, are tried), so a
 * resource that always answers 401 cannot make the broker hammer the
 * upstream's token endpoint.
 */
async function refreshAfter401(
  ctx: ProxyContext,
  resolved: ResolvedAccount,
  refused: OpenedCredentials,
  requestId: string,
): Promise<OpenedCredentials | undefined> {
  if (!resolved.plan.canRefresh) return undefined;
  const id = resolved.account.id;
  const last = ctx.forcedRefreshes.get(id);
  if (last && last.version === refused.version && Date.now() - last.at < FORCED_REFRESH_COOLDOWN_MS) {
    const stored = await readCredentials(ctx.services.db, ctx.services.keyring, id);
    if (!stored || stored.version <= refused.version) return undefined;
    ctx.accounts.updateCredentials(id, stored);
    return stored;
  }
  const fresh = await refreshFrom(ctx, resolved.account, refused, requestId, { refused: true });
  // The same token under a newer version (a reconnect stored the shared token again) is nothing newer to try.
  if (fresh.version <= refused.version || (fresh.accessToken !== undefined && fresh.accessToken === refused.accessToken)) return undefined;
  ctx.forcedRefreshes.set(id, { version: fresh.version, at: Date.now() });
  if (ctx.forcedRefreshes.size > 10_000) ctx.forcedRefreshes.delete(ctx.forcedRefreshes.keys().next().value!);
  return fresh;
}

/**
 * A 401 with nothing newer to try (the refreshed credentials refused too, or
 * none to refresh) means the upstream no longer takes the account's
 * credentials: the app is told (`account.revoked_upstream`), once per set of
 * credentials, without holding the response.
 */
function reportRevokedUpstream(ctx: ProxyContext, resolved: ResolvedAccount, refused: OpenedCredentials, requestId: string): void {
  void emitAccountEvent(
    ctx.services,
    { type: "account.revoked_upstream", accountId: resolved.account.id, actorType: "system", requestId, onceKey: String(refused.version) },
    ctx.services.log,
  );
}

// ── 6. the relay ────────────────────────────────────────────────────────────

/**
 * Writes the upstream's status, end-to-end headers and body to the app
 * (upstream-answer.ts). Settles when the app has the whole body; rejects
 * when either side fails, after cutting both: an upstream that stalls cuts
 * the app's connection (never a second response); an app that goes away
 * stops the upstream transfer.
 */
function relay(res: ServerResponse, upstream: UpstreamAnswer, requestId: string, preferenceApplied: string | undefined): Promise<void> {
  const headers = downstreamResponseHeaders(upstream.headers);
  // Among the headers of the one writeHead, so none is stored one by one (http/response.ts).
  headers["x-request-id"] = requestId;
  // The upstream's own Preference-Applied (for preferences the app sent it) is kept beside the broker's.
  if (preferenceApplied)
    headers["preference-applied"] = headers["preference-applied"] ? `${String(headers["preference-applied"])}, ${preferenceApplied}` : preferenceApplied;
  return upstream.relayTo(res, headers);
}

// ── the call ────────────────────────────────────────────────────────────────

/**
 * An account-bound caller whose account must be connected again also gets
 * where its end user can do it: an MCP URL-mode elicitation to the broker's
 * connect-on-demand page for that account's connector and user
 * (oauth/connect-tickets.ts). An app token (`/v1/accounts/<id>/proxy`) acts
 * for no end user at hand, and gets the bare error.
 */
async function withReconnectElicitation(ctx: ProxyContext, caller: ProxyCaller, userId: string, err: AccountNeedsReauth): Promise<AccountNeedsReauth> {
  const found = await ctx.accounts.get(caller.accountId);
  const connector = found && ctx.services.connectors.get(found.account.connectorId);
  if (!found || !connector) return err;
  const elicitation = await connectElicitation(
    ctx.services,
    {
      appId: caller.appId,
      userId,
      connectorId: connector.id,
      // The client in front of the end user: the latest actor of a delegated token, else the app.
      requestedBy: caller.claims.act?.client_id ?? caller.appId,
      ...(found.account.hostname ? { hostname: found.account.hostname } : {}),
    },
    `Reconnect your ${connector.name} account to continue.`,
  );
  return new AccountNeedsReauth(caller.accountId, { cause: err, body: { elicitations: [elicitation] } });
}

export interface ProxyRequest {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  /** The request's logger (made on first use). */
  log: () => Logger;
  /** The path and query after the proxy prefix, still percent-encoded (`/files/1?x=y`). */
  pathAndQuery: string;
}

/**
 * Runs one proxied call for an authenticated caller. Resolves when the
 * response has been relayed (or the connection cut); throws a BrokerError
 * only while no response has started.
 */
export async function proxyCall(ctx: ProxyContext, call: ProxyRequest, caller: ProxyCaller, startedAt: bigint): Promise<void> {
  const { req, res, requestId } = call;
  const record: CallRecord = {
    plan: undefined,
    status: CLIENT_CLOSED,
    retried: false,
    upstreamSeconds: 0,
    waitedSeconds: 0,
    preferenceApplied: undefined,
    userId: undefined,
  };
  // The app going away aborts the upstream request (and its body stream).
  const appGone = new AppGone();
  const onClose = () => {
    if (!res.writableFinished) appGone.abort();
  };
  res.once("close", onClose);
  try {
    const resolved = resolveAccount(ctx, caller, record, ctx.accounts.cached(caller.accountId) ?? (await ctx.accounts.read(caller.accountId)));
    record.plan = resolved.plan;
    const url = targetUrl(ctx, resolved, call.pathAndQuery) ?? (await targetAfterRefresh(ctx, resolved, call.pathAndQuery, requestId));
    const host = hostToCheck(resolved, url);
    const target: Target = { url, checked: ctx.services.outbound.checkedNow(host) ?? (await ctx.services.outbound.resolve(host)) };
    const { style, rateRules } = resolved.plan;
    let credentials = needsRefresh(ctx, resolved) ? await refreshFrom(ctx, resolved.account, resolved.credentials, requestId) : resolved.credentials;
    const body = requestBodyAtHand(req, ctx.options.replayableBodyBytes) ?? (await readRequestBody(req));
    const outgoing: Outgoing = {
      connectorName: resolved.connector.name,
      method: req.method ?? "GET",
      headers: withConnectorHeaders(resolved.connector, upstreamRequestHeaders(req.headers, requestId, style.header)),
      body,
      appGone,
    };

    if (rateRules) await takeSlot(ctx, resolved, rateRules, req.headers.prefer, record, appGone);
    let upstream = await exchange(ctx, target, style, credentials, outgoing, record);
    if (rateRules) await noteUpstreamHold(ctx, resolved, rateRules, upstream);
    if (upstream.statusCode === 401) {
      // The 401's body waits unread in the socket while the refresh runs.
      const fresh = await refreshAfter401(ctx, resolved, credentials, requestId).catch((err: unknown) => {
        void upstream.discard();
        throw err;
      });
      if (fresh && isReplayable(body)) {
        await upstream.discard();
        credentials = fresh;
        record.retried = true;
        // The retry is a call like any other to the upstream's limits.
        if (rateRules) await takeSlot(ctx, resolved, rateRules, req.headers.prefer, record, appGone);
        upstream = await exchange(ctx, target, style, credentials, outgoing, record);
        if (rateRules) await noteUpstreamHold(ctx, resolved, rateRules, upstream);
      }
      // Otherwise the app gets the upstream's 401; a refresh made meanwhile serves its next call.
      if (upstream.statusCode === 401 && (!fresh || record.retried)) reportRevokedUpstream(ctx, resolved, credentials, requestId);
    }
    record.status = upstream.statusCode;
    ctx.services.metrics.proxyOverhead.observe(seconds(startedAt) - record.upstreamSeconds - record.waitedSeconds);
    try {
      await relay(res, upstream, requestId, record.preferenceApplied);
    } catch (err) {
      // The status line is out: the cut connection tells the app. An app
      // that went away (premature close of its response) is no upstream failure.
      const appLeft = appGone.aborted || (err as { code?: string }).code === "ERR_STREAM_PREMATURE_CLOSE";
      if (!appLeft) call.log().warn({ err: upstreamFailure(err, resolved.connector.name) }, "proxied response cut short");
      res.destroy();
    }
  } catch (err) {
    if (appGone.aborted) {
      record.status = CLIENT_CLOSED;
      return;
    }
    record.status = toBrokerError(err).status;
    if (err instanceof AccountNeedsReauth && caller.claims.acct !== undefined && record.userId !== undefined)
      throw await withReconnectElicitation(ctx, caller, record.userId, err);
    throw err;
  } finally {
    res.off("close", onClose);
    if (record.plan) record.plan.countCall(record.status);
    else ctx.services.metrics.proxyRequests.series("none", String(record.status)).inc();
    ctx.audit.record({
      at: Date.now(),
      appId: caller.appId,
      accountId: caller.accountId,
      connectorId: record.plan?.connectorId,
      requestId,
      method: req.method ?? "GET",
      pathAndQuery: call.pathAndQuery,
      status: record.status,
      retried: record.retried,
      delegation: caller.claims.act ? { user: record.userId, act: caller.claims.act } : undefined,
    });
  }
}
