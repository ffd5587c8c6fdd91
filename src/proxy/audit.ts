/**
 * Audit events of proxied calls: who (app, account) called what (method,
 * path template, connector) with what result (status), with the request id
 * to follow it in the logs. Never bodies, headers or query strings.
 *
 * The hot path must not wait for Postgres, so events are queued in memory
 * and written in batches at most `auditFlushMs` after the call, each batch
 * one INSERT … SELECT FROM unnest(…) with one array per column: a statement
 * of constant size whatever the batch, so writing it costs the broker next
 * to nothing (a Prisma `createMany` of a thousand rows costs milliseconds
 * of main-thread CPU to build). `at` is the time of the call, not of the
 * write. The queue is bounded: while Postgres is down, the oldest events
 * are dropped and counted (a warning says how many), and a crash loses at
 * most the last batch window. `flush()` writes what is queued (shutdown,
 * tests).
 */
import { sqlRows, type Db, type SqlStatement } from "../db.js";
import type { Logger } from "../log.js";
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
}

export const PROXY_AUDIT_ACTION = "proxy.request";

/**
 * Straight through the pg pool, prepared once (sqlRows): through Prisma's
 * raw-query layer each batch cost more CPU than the SQL. Postgres builds the
 * rows (timestamps from epoch milliseconds, the JSON detail), so the
 * broker's one thread only lays out one array per column (formatting each
 * row in JavaScript was 3 % of the proxy's main-thread time).
 * "at" is timestamp(3) without time zone, as Prisma writes DateTime: UTC.
 */
const INSERT_BATCH: SqlStatement = {
  name: "proxy-audit-insert-batch",
  text: `INSERT INTO "AuditEvent" ("at", "action", "actorType", "actorId", "appId", "accountId", "connectorId", "requestId", "detail")
SELECT to_timestamp(at / 1000.0) AT TIME ZONE 'UTC', '${PROXY_AUDIT_ACTION}', 'app', app, app, account, connector, request,
       jsonb_build_object('method', method, 'path', path, 'status', status, 'retried', retried)
FROM unnest($1::float8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::bool[])
  AS t(at, app, account, connector, request, method, path, status, retried)`,
};

export class ProxyAuditLog {
  private queue: ProxyAuditEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private dropped = 0;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly options: { flushMs: number; bufferLimit: number },
  ) {}

  record(event: ProxyAuditEvent): void {
    if (this.queue.length >= this.options.bufferLimit) {
      this.queue.shift();
      this.dropped += 1;
    }
    this.queue.push(event);
    // A timer only while something waits, unref'd: an idle proxy keeps no process alive.
    this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs).unref();
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

  private async write(batch: ProxyAuditEvent[]): Promise<void> {
    if (this.dropped > 0) {
      this.log.warn({ dropped: this.dropped }, "proxy audit events dropped: the queue was full");
      this.dropped = 0;
    }
    try {
      // An app calls the same few paths over and over: each template is made once per batch.
      const templates = new Map<string, string>();
      const templateOf = (pathAndQuery: string) => {
        let template = templates.get(pathAndQuery);
        if (template === undefined) templates.set(pathAndQuery, (template = pathTemplate(pathAndQuery)));
        return template;
      };
      await sqlRows(this.db, INSERT_BATCH, [
        batch.map((r) => r.at),
        batch.map((r) => r.appId),
        batch.map((r) => r.accountId),
        batch.map((r) => r.connectorId ?? null),
        batch.map((r) => r.requestId),
        batch.map((r) => r.method),
        batch.map((r) => templateOf(r.pathAndQuery)),
        batch.map((r) => r.status),
        batch.map((r) => r.retried),
      ]);
    } catch (err) {
      // Put the batch back in front (within the bound) and try again later.
      const room = Math.max(0, this.options.bufferLimit - this.queue.length);
      this.dropped += batch.length - Math.min(room, batch.length);
      this.queue = [...batch.slice(batch.length - Math.min(room, batch.length)), ...this.queue];
      this.log.warn({ err, queued: this.queue.length }, "proxy audit events not written yet");
      this.timer ??= setTimeout(() => void this.flush(), Math.max(this.options.flushMs, 5_000)).unref();
    }
  }
}
