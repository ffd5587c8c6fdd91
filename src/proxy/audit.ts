/**
 * Audit events of proxied calls: who (app, account) called what (method,
 * path template, connector) with what result (status), with the request id
 * to follow it in the logs. Never bodies, headers or query strings.
 *
 * The hot path must not wait for Postgres, so events are queued in memory
 * and written in batches at most `auditFlushMs` after the call, or as soon
 * as `batchEvents` wait (under load: many small writes rather than one
 * large one that stalls the calls in flight while its text is built), each batch
 * one INSERT … SELECT FROM jsonb_to_recordset(…) of one JSON text: a
 * statement of constant size whatever the batch, so writing it costs the
 * broker next to nothing (a Prisma `createMany` of a thousand rows costs
 * milliseconds of main-thread CPU to build). `at` is the time of the call, not of the
 * write. The queue is bounded: while Postgres is down, the oldest events
 * are dropped and counted (a warning says how many), and a crash loses at
 * most the last batch window. `flush()` writes what is queued (shutdown,
 * tests).
 */
import { LRUCache } from "lru-cache";
import { jsonbParameter, sqlRows, type Db, type SqlStatement } from "../db.js";
import type { Logger } from "../log.js";
import type { ActorClaim } from "../oauth/tokens.js";
import { pathTemplate } from "./path-template.js";

export interface ProxyAuditEvent {
  /** When the call was made (ms since the epoch); the row is written later. */
  at: number;
  appId: string;
  accountId: string;
  connectorId: string | undefined;
  requestId: string;
  method: string;
  /** The path and query as the app sent them; only a template of the path is stored (path-template.ts). */
  pathAndQuery: string;
  /** The status the app got; 499 when the app went away first. */
  status: number;
  /** Whether the call was retried after an upstream 401 and a refresh. */
  retried: boolean;
  /**
   * A delegated token (one with `act`): the user it acts for and the chain
   * of actors, so the record reads user → agent (`act`) → app (`appId`) →
   * connection (`accountId`).
   */
  delegation?: { user: string | undefined; act: ActorClaim } | undefined;
}

export const PROXY_AUDIT_ACTION = "proxy.request";

/**
 * Straight through the pg pool, prepared once (sqlRows): through Prisma's
 * raw-query layer each batch cost more CPU than the SQL. The batch is one
 * JSON text (JSON.stringify, native), sent as jsonb's binary input (bytes
 * outside V8's heap: db.ts jsonbParameter), that Postgres turns into rows
 * (jsonb_to_recordset), timestamps and the JSON detail included: pg's
 * JavaScript array encoding of one array per column cost the broker's one
 * thread ~2.5 KB of garbage and a few µs per event, in a burst at every
 * flush (a stall for the calls in flight; docs/benchmarks.md).
 * "at" is timestamp(3) without time zone, as Prisma writes DateTime: UTC.
 */
const INSERT_BATCH: SqlStatement = {
  name: "proxy-audit-insert-batch-json-v2",
  text: `INSERT INTO "AuditEvent" ("at", "action", "actorType", "actorId", "appId", "accountId", "connectorId", "requestId", "detail")
SELECT to_timestamp(at / 1000.0) AT TIME ZONE 'UTC', '${PROXY_AUDIT_ACTION}', 'app', app, app, account, connector, request,
       jsonb_build_object('method', method, 'path', path, 'status', status, 'retried', retried)
         || CASE WHEN act IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('user', usr, 'act', act) END
FROM jsonb_to_recordset($1::jsonb)
  AS t(at float8, app text, account text, connector text, request text, method text, path text, status int, retried bool, usr text, act jsonb)`,
};

/** One queued row: short names, as the JSON the statement reads. Every string but `request` is shared with other calls. */
interface QueuedEvent {
  at: number;
  app: string;
  account: string;
  connector: string | null;
  request: string;
  method: string;
  path: string;
  status: number;
  retried: boolean;
  /** Delegated tokens only (absent keys read as NULL). */
  usr?: string;
  act?: ActorClaim;
}

/** Distinct paths whose template is remembered (an app calls the same few paths over and over). */
const TEMPLATES_REMEMBERED = 1_000;

export class ProxyAuditLog {
  private queue: QueuedEvent[] = [];
  /**
   * The template of each recent path, made when the call is recorded: a queued
   * event then holds the one shared template string, not the call's own path
   * (an event waits up to a flush interval, long enough to be copied by the
   * young-generation GC and promoted; less that survives, shorter pauses).
   */
  private readonly templates = new LRUCache<string, string>({ max: TEMPLATES_REMEMBERED });
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private dropped = 0;
  /** After a failed write: no early batch until the retry, so a Postgres that is down is not asked on every call. */
  private backingOff = false;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly options: { flushMs: number; batchEvents: number; bufferLimit: number },
  ) {}

  record(event: ProxyAuditEvent): void {
    if (this.queue.length >= this.options.bufferLimit) {
      this.queue.shift();
      this.dropped += 1;
    }
    const queued: QueuedEvent = {
      at: event.at,
      app: event.appId,
      account: event.accountId,
      connector: event.connectorId ?? null,
      request: event.requestId,
      method: event.method,
      path: this.templateOf(event.pathAndQuery),
      status: event.status,
      retried: event.retried,
    };
    if (event.delegation) {
      queued.usr = event.delegation.user;
      queued.act = event.delegation.act;
    }
    this.queue.push(queued);
    if (this.queue.length >= this.options.batchEvents && !this.writing && !this.backingOff) {
      void this.flush();
      return;
    }
    // A timer only while something waits, unref'd: an idle proxy keeps no process alive.
    this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs).unref();
  }

  private templateOf(pathAndQuery: string): string {
    let template = this.templates.get(pathAndQuery);
    if (template === undefined) this.templates.set(pathAndQuery, (template = pathTemplate(pathAndQuery)));
    return template;
  }

  /** Writes every queued event; resolves when they are stored (or the write failed and was logged). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.writing) await this.writing;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.writing = this.write(batch).finally(() => (this.writing = undefined));
    await this.writing;
  }

  private async write(batch: QueuedEvent[]): Promise<void> {
    if (this.dropped > 0) {
      this.log.warn({ dropped: this.dropped }, "proxy audit events dropped: the queue was full");
      this.dropped = 0;
    }
    try {
      await sqlRows(this.db, INSERT_BATCH, [jsonbParameter(batch)]);
      this.backingOff = false;
    } catch (err) {
      this.backingOff = true;
      // Put the batch back in front (within the bound) and try again later.
      const room = Math.max(0, this.options.bufferLimit - this.queue.length);
      this.dropped += batch.length - Math.min(room, batch.length);
      this.queue = [...batch.slice(batch.length - Math.min(room, batch.length)), ...this.queue];
      this.log.warn({ err, queued: this.queue.length }, "proxy audit events not written yet");
      this.timer ??= setTimeout(() => void this.flush(), Math.max(this.options.flushMs, 5_000)).unref();
    }
  }
}
