import { finished, Readable } from 'node:stream';
import { abortReason } from './concurrency-gate.js';
import { errorCode } from './http-exchange.js';
import { UpstreamError } from './upstream.js';
import { destroyBody } from './destroy-body.js';

/** One upstream response body for a blob, positioned somewhere inside the blob. */
export interface BlobSource {
  body: Readable;
  /** Total blob size when the upstream said (Content-Length of a 200, Content-Range total of a 206). */
  total: number | null;
  /**
   * Bytes at the start of `body` to drop: when a Range request was answered 200 with the whole blob,
   * the bytes before the requested position are read and discarded (costs bandwidth, but keeps the
   * pull working against upstreams or CDNs that ignore `Range`).
   */
  skip: number;
}

export interface ResumableBlobBodyOptions {
  first: BlobSource;
  /** Blob position of the first byte of `first` after `skip`. */
  start: number;
  /** Opens a new source at `position` (a `Range: bytes=<position>-` request). */
  reopen: (position: number, signal: AbortSignal) => Promise<BlobSource>;
  resumes: number;
  /** Called before each resume, with where it resumes and why (an error code, never a URL). */
  onResume: (event: { position: number; reason: string }) => void;
  onBytes: (bytes: number) => void;
  signal?: AbortSignal;
  /** For error messages: `library/alpine@sha256:...`. */
  describe: string;
}

/**
 * The blob stream handed to the caller of `Upstream.getBlob`. When the upstream body fails mid-way
 * (socket reset, premature close, body timeout) or ends before the known size, it re-requests the
 * rest with `Range` — up to `resumes` times — and continues seamlessly. When it cannot, it is
 * destroyed with an UpstreamError('unavailable'); it never ends early without an error, because the
 * byte count is checked against the known size at the end.
 *
 * Ownership: this stream owns the current upstream body; destroying it destroys that body and cancels
 * a resume in progress. Backpressure is passed through (the upstream body is paused while `push`
 * returns false).
 */
export class ResumableBlobBody extends Readable {
  private source: Readable | null = null;
  private detachSource: (() => void) | null = null;
  private position: number;
  private total: number | null;
  private resumesLeft: number;
  private readonly cancel = new AbortController();

  constructor(private readonly options: ResumableBlobBodyOptions) {
    super();
    this.position = options.start;
    this.total = options.first.total;
    this.resumesLeft = options.resumes;
    this.attach(options.first);
  }

  override _read(): void {
    this.source?.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.cancel.abort();
    this.detachSource?.();
    if (this.source) destroyBody(this.source);
    this.source = null;
    callback(error);
  }

  private attach(next: BlobSource): void {
    const body = next.body;
    let skip = next.skip;
    this.source = body;

    const onData = (chunk: Buffer): void => {
      this.options.onBytes(chunk.length);
      let data = chunk;
      if (skip > 0) {
        const dropped = Math.min(skip, data.length);
        skip -= dropped;
        data = data.subarray(dropped);
        if (data.length === 0) return;
      }
      this.position += data.length;
      if (this.total !== null && this.position > this.total) {
        this.fail(new UpstreamError('invalid', `${this.options.describe}: upstream sent more than ${this.total} bytes`));
        return;
      }
      if (!this.push(data)) body.pause();
    };
    body.on('data', onData);
    const stopWatching = finished(body, (error) => this.sourceFinished(body, error ?? null));
    this.detachSource = () => {
      body.off('data', onData);
      stopWatching();
    };
  }

  private sourceFinished(body: Readable, error: Error | null): void {
    if (this.source !== body || this.destroyed) return;
    this.detachSource?.();
    this.detachSource = null;
    this.source = null;
    destroyBody(body);
    if (error === null && (this.total === null || this.position === this.total)) {
      // Without a known size a clean end is all there is to go by; the caller's digest check decides.
      this.push(null);
      return;
    }
    this.resumeAfter(error ?? new Error(`ended at byte ${this.position} of ${this.total}`));
  }

  private resumeAfter(cause: Error): void {
    const { signal, describe } = this.options;
    if (signal?.aborted) {
      this.destroy(toError(abortReason(signal)));
      return;
    }
    const where = `at byte ${this.position}${this.total === null ? '' : ` of ${this.total}`}`;
    if (this.resumesLeft <= 0) {
      const message = `${describe}: blob body interrupted ${where} (${errorCode(cause)}), ${this.options.resumes} resume(s) exhausted`;
      this.fail(new UpstreamError('unavailable', message, { cause }));
      return;
    }
    this.resumesLeft--;
    this.options.onResume({ position: this.position, reason: errorCode(cause) });
    const reopenSignal = signal ? AbortSignal.any([signal, this.cancel.signal]) : this.cancel.signal;
    this.options.reopen(this.position, reopenSignal).then(
      (next) => {
        if (this.destroyed) {
          destroyBody(next.body);
          return;
        }
        if (next.total !== null && this.total !== null && next.total !== this.total) {
          destroyBody(next.body);
          this.fail(new UpstreamError('invalid', `${describe}: blob size changed from ${this.total} to ${next.total} while resuming`));
          return;
        }
        this.total ??= next.total;
        this.attach(next);
      },
      (error: unknown) => {
        if (!this.destroyed) this.fail(toError(error));
      },
    );
  }

  private fail(error: Error): void {
    if (!this.destroyed) this.destroy(error);
  }
}

const toError = (value: unknown): Error => (value instanceof Error ? value : new Error(String(value)));
