import { UpstreamError } from './upstream.js';

/**
 * The time one logical upstream request may take until its final response headers: every token
 * round, redirect hop and retry (with its backoff) included. A hung upstream that accepts the
 * connection and never answers would otherwise hold a client for retries × headersTimeout (three
 * 30 s attempts: 92 s). When it expires, everything still pending is aborted with an UpstreamError
 * 'timeout' (504 for the client, or a stale cached answer). Once the headers are in, `settle()`
 * lifts it: a body streams under bodyTimeout, still cancelled by the caller's own signal.
 */
export class HeadersDeadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  /** The signal for every step of the request: the deadline, and the caller's signal if any. */
  readonly signal: AbortSignal;

  constructor(ms: number, callerSignal: AbortSignal | undefined, describe: () => string) {
    this.signal = callerSignal ? AbortSignal.any([callerSignal, this.controller.signal]) : this.controller.signal;
    this.timer = setTimeout(() => {
      this.controller.abort(new UpstreamError('timeout', `${describe()}: no response within the ${ms} ms request deadline`));
    }, ms);
    this.timer.unref();
  }

  settle(): void {
    clearTimeout(this.timer);
  }

  /** Runs `task` (headers and all) within a deadline of its own: for shared work no caller owns. */
  static async run<T>(ms: number, describe: () => string, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const deadline = new HeadersDeadline(ms, undefined, describe);
    try {
      return await task(deadline.signal);
    } finally {
      deadline.settle();
    }
  }
}
