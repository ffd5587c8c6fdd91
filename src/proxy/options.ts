/**
 * The proxy's tunables, declared once with their defaults. They are not env
 * vars yet (src/config.ts is where those would go); the composition root
 * passes the defaults, tests pass short timeouts.
 */

export interface ProxyOptions {
  /**
   * Longest wait for the upstream's response headers after the request was
   * sent (undici `headersTimeout`; refreshed while a request body is still
   * being written). Past it the app gets 504 `upstream_timeout`.
   * @defaultValue 30000
   */
  headersTimeoutMs: number;
  /**
   * Longest silence between two chunks of the upstream's response body
   * (undici `bodyTimeout`; not counted while the app is slow to read). The
   * response has started by then, so the connection to the app is cut.
   * @defaultValue 60000
   */
  bodyTimeoutMs: number;
  /**
   * Request bodies with a `Content-Length` up to this size are read into
   * memory before they are sent, so they can be sent again after an upstream
   * 401 and a refresh. Larger or chunked bodies are streamed and never
   * replayed. Worst-case memory is this times the concurrent requests.
   * @defaultValue 65536 (64 KiB: JSON API calls, form posts)
   */
  replayableBodyBytes: number;
  /**
   * How long an account and its opened credentials are reused from memory
   * before the database is read again. Bounds how long another process's
   * change (account revoked, credentials refreshed) takes to be seen here;
   * a refresh done by this process is seen at once. 0 disables the cache.
   * @defaultValue 1000
   */
  accountCacheMs: number;
  /**
   * Credentials expiring within this many seconds are refreshed before the
   * call (the refresh worker normally renews them well before).
   * @defaultValue 5
   */
  refreshSkewSeconds: number;
  /**
   * Audit events are written in batches at most this long after the call,
   * so a proxied call never waits for Postgres.
   * @defaultValue 1000
   */
  auditFlushMs: number;
  /**
   * A batch is written as soon as this many events wait, before `auditFlushMs`
   * is up: under load a write of a whole second of calls (thousands of events,
   * one JSON text built on the main thread) stalls the calls in flight; small
   * batches spread that work.
   * @defaultValue 256
   */
  auditBatchEvents: number;
  /**
   * Audit events held in memory while Postgres is slow or down; older ones
   * are dropped (and counted) beyond it.
   * @defaultValue 10000
   */
  auditBufferLimit: number;
}

export const DEFAULT_PROXY_OPTIONS: Readonly<ProxyOptions> = Object.freeze({
  headersTimeoutMs: 30_000,
  bodyTimeoutMs: 60_000,
  replayableBodyBytes: 64 * 1024,
  accountCacheMs: 1_000,
  refreshSkewSeconds: 5,
  auditFlushMs: 1_000,
  auditBatchEvents: 256,
  auditBufferLimit: 10_000,
});
