/**
 * The upstream's answer to one proxied call, taken through undici's
 * `dispatch` handler interface rather than `request()`: the status and
 * headers settle `started`; the body is then written straight to the app's
 * response (`relayTo`) or dropped (`discard`, after a 401 that is retried).
 *
 * Why not `request()` and `pipe`: they put a Readable and a pipe's dozen
 * listeners between two sockets on every call. Writing the chunks as they
 * arrive costs ~20 µs less main-thread CPU per small call on the bench
 * machine (docs/benchmarks.md, "Proxy overhead"), and the backpressure is
 * the same: the upstream socket is paused while the app's is full.
 *
 * Chunks that arrive before the broker has decided what to do with the body
 * (they usually come in the same packet as the headers) are held, at most
 * `HOLD_BYTES` before the upstream is paused.
 */
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Dispatcher } from "undici";

/** What is held of a body nobody takes yet before the upstream is paused; also the most `discard` reads to keep a connection. */
const HOLD_BYTES = 64 * 1024;

type Headers = Record<string, string | string[] | undefined>;

/** What a relay rejects with when the app's connection closed before the whole answer was written. */
const appClosed = () => Object.assign(new Error("the app closed the connection"), { code: "ERR_STREAM_PREMATURE_CLOSE" });

/** Where the body goes once the broker has decided: the app's response, or nowhere. */
interface Sink {
  /** Takes a chunk; false when the upstream must pause until `resume` is called. */
  write(chunk: Buffer, resume: () => void): boolean;
  end(): void;
  fail(err: Error): void;
}

export class UpstreamAnswer implements Dispatcher.DispatchHandler {
  statusCode = 0;
  headers: Headers = {};
  /** Settles when the status and headers arrive, or rejects with the failure that came first. */
  readonly started: Promise<UpstreamAnswer>;

  private controller: Dispatcher.DispatchController | undefined;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private ended = false;
  private failure: Error | undefined;
  private sink: Sink | undefined;
  private settleStart!: { resolve: (answer: UpstreamAnswer) => void; reject: (err: Error) => void };

  /** `abortReason` is asked when the request reaches a connection: undici cannot abort a request before. */
  constructor(private readonly abortReason: () => Error | undefined) {
    this.started = new Promise((resolve, reject) => (this.settleStart = { resolve, reject }));
  }

  /** Aborts the exchange once it has reached a connection (before, `abortReason` decides); the failure reaches whoever waits on it. */
  abort(reason: Error): void {
    this.controller?.abort(reason);
  }

  // ── undici's handler interface ──

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    const reason = this.abortReason();
    if (reason) controller.abort(reason);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Headers): void {
    // undici hands informational answers (103 Early Hints, 102 Processing) to the handler too: only the final one counts.
    if (statusCode < 200) return;
    this.statusCode = statusCode;
    this.headers = headers;
    this.settleStart.resolve(this);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.sink) {
      if (!this.sink.write(chunk, () => controller.resume())) controller.pause();
      return;
    }
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes > HOLD_BYTES) controller.pause();
  }

  onResponseEnd(): void {
    this.ended = true;
    this.sink?.end();
  }

  onResponseError(controller: Dispatcher.DispatchController, err: Error): void {
    // No final status yet (statusCode is set with it): the failure is the exchange's.
    if (this.statusCode === 0) return this.settleStart.reject(err);
    this.failure = err;
    this.sink?.fail(err);
  }

  // ── what the broker does with the body ──

  /** Hands the body to `sink`: what was held first, then the rest as it arrives. */
  private drainTo(sink: Sink): void {
    this.sink = sink;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    let paused = false;
    for (const chunk of held) if (!sink.write(chunk, () => this.controller?.resume())) paused = true;
    if (this.failure) sink.fail(this.failure);
    else if (this.ended) sink.end();
    // The upstream may have been paused while the body was held.
    else if (!paused) this.controller?.resume();
  }

  /**
   * Writes the status, `headers` and the body to the app's response, with
   * backpressure. Settles when the app has the whole body; rejects when
   * either side fails, after cutting both (never a second response).
   */
  relayTo(res: ServerResponse, headers: OutgoingHttpHeaders): Promise<void> {
    // An app gone already has had its "close": nothing below would ever settle.
    if (res.destroyed) {
      const gone = appClosed();
      this.abort(gone);
      return Promise.reject(gone);
    }
    res.writeHead(this.statusCode, headers);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        this.abort(err);
        res.destroy();
        reject(err);
      };
      res.once("close", () => {
        if (!res.writableFinished) fail(appClosed());
      });
      this.drainTo({
        write: (chunk, resume) => {
          if (res.write(chunk)) return true;
          res.once("drain", resume);
          return false;
        },
        end: () =>
          res.end(() => {
            settled = true;
            resolve();
          }),
        fail,
      });
    });
  }

  /**
   * Drops the body: a small one is read to the end so its connection goes
   * back to the pool, a large one is cut. Never rejects.
   */
  discard(): Promise<void> {
    if (this.ended || this.failure) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let read = 0;
      this.drainTo({
        write: (chunk) => {
          read += chunk.length;
          if (read > HOLD_BYTES) {
            this.abort(new Error("a discarded upstream body is too large to read"));
            resolve();
          }
          return true;
        },
        end: resolve,
        fail: () => resolve(),
      });
    });
  }
}
