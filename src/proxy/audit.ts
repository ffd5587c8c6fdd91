/**
 * Audit events of proxied calls: who (app, account) called what (method,
 * path template, connector) with what result (status), with the request id
 * to follow it in the logs. Never bodies, headers or query strings.
 *
 * The hot path must not wait for Postgres, so events are queued in memory
 * and written in batches at most `auditFlushMs` after the call, or as soon
 * as `batchEvents` wait (under load: many small writes rather than one
 * large one that stalls the calls in flight while its text is built), each batch
 * one COPY of a row per event (db.ts copyRows). `at` is the time of the call, not of the
 * write. The queue is bounded: while Postgres is down, the oldest events
 * are dropped and counted (a warning says how many), and a crash loses at
 * most the last batch window. `flush()` writes what is queued (shutdown,
 * tests).
 */
import { METHODS } from "node:http";
import { LRUCache } from "lru-cache";
import { copyField, copyRows, copyTimestamp, type Db } from "../db.js";
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
 * Straight through the pg pool as COPY's text format: the proxy writes an
 * audit row per call, and a row in a batch of 256 costs PostgreSQL ~23 %
 * less CPU this way than through an INSERT from jsonb_to_recordset (no
 * statement, no JSON to parse but the detail's), PostgreSQL's CPU being
 * taken from the same cores as the broker's (docs/benchmarks.md). Through
 * Prisma's `createMany`, a thousand rows cost milliseconds of the broker's
 * one thread to build. "at" is timestamp(3) without time zone, as Prisma
 * writes DateTime: UTC (the "Z" of an ISO time is ignored by that type).
 */
const COPY_ROWS = `COPY "AuditEvent" ("at", "action", "actorType", "actorId", "appId", "accountId", "connectorId", "requestId", "detail") FROM STDIN`;

/** The fields every proxy audit row has in common: the action and the actor's kind. */
const ACTION_AND_ACTOR = `\t${PROXY_AUDIT_ACTION}\tapp\t`;

/** One queued row. Every string but `request` is shared with other calls. */
interface QueuedEvent {
  at: number;
  app: string;
  account: string;
  connector: string | null;
  request: string;
  method: string;
  /** The path's template as JSON, escaped for COPY: made once per template, shared by its events. */
  pathField: string;
  status: number;
  retried: boolean;
  /** Delegated tokens only: the detail then holds `user` (null when the token names none) and `act`. */
  usr?: string;
  act?: ActorClaim;
}

/** Distinct paths whose template is remembered (an app calls the same few paths over and over). */
const TEMPLATES_REMEMBERED = 1_000;

export class ProxyAuditLog {
  private queue: QueuedEvent[] = [];
  /**
   * The template of each recent path as its detail field holds it (JSON,
   * escaped for COPY), made when the call is recorded: a queued event then
   * holds the one shared string, not the call's own path (an event waits up
   * to a flush interval, long enough to be copied by the young-generation
   * GC and promoted; less that survives, shorter pauses), and a row's
   * detail is written without JSON.stringify (~4,300 instructions a row).
   */
  private readonly pathFields = new LRUCache<string, string>({ max: TEMPLATES_REMEMBERED });
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
      pathField: this.pathFieldOf(event.pathAndQuery),
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

  private pathFieldOf(pathAndQuery: string): string {
    let field = this.pathFields.get(pathAndQuery);
    if (field === undefined) this.pathFields.set(pathAndQuery, (field = copyField(jsonText(pathTemplate(pathAndQuery)))));
    return field;
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
      await copyRows(this.db, COPY_ROWS, Buffer.from(batch.map(copyLine).join("")));
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

/** The methods Node's HTTP parser takes (it refuses any other): letters and `-`, so their JSON is their text in quotes. */
const PLAIN_METHODS = new Set(METHODS);

/**
 * One event as a line of COPY_ROWS. The detail's JSON is written here, each
 * value as COPY text (escaping field by field is escaping the whole: the
 * text around them holds nothing COPY escapes).
 */
function copyLine(event: QueuedEvent): string {
  const method = PLAIN_METHODS.has(event.method) ? `"${event.method}"` : copyField(jsonText(event.method));
  const delegation = event.act ? `,"user":${copyField(jsonText(event.usr ?? null))},"act":${copyField(jsonText(event.act))}` : "";
  const detail = `{"method":${method},"path":${event.pathField},"status":${event.status},"retried":${event.retried}${delegation}}`;
  const app = copyField(event.app);
  return `${copyTimestamp(event.at)}${ACTION_AND_ACTOR}${app}\t${app}\t${copyField(event.account)}\t${copyField(event.connector)}\t${copyField(event.request)}\t${detail}\n`;
}

/**
 * JSON for a jsonb column. jsonb refuses the escape `\u0000` (its text cannot
 * hold NUL): a claim carrying one would fail its batch at every retry, so
 * NUL is written as U+FFFD instead (a second pass, only when one is there).
 */
function jsonText(value: unknown): string {
  const json = JSON.stringify(value);
  return json.includes("\\u0000")
    ? JSON.stringify(value, (_key, inner: unknown) => (typeof inner === "string" ? inner.replaceAll("\0", "\uFFFD") : inner))
    : json;
}
