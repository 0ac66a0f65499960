import { connect as connectTcp, type Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import type { BlobReader, ByteRange } from '../blob-store.js';
import type { BufferPool } from '../buffer-pool.js';

/** Buffers on their way to the client at once: one is read into while the other is written, as the file reader. */
const MAX_IN_FLIGHT = 2;
const CONNECT_TIMEOUT_MS = 5_000;
/** Socket inactivity (a paused body included) before the GET fails: the SDK's `requestTimeout`. */
const IDLE_TIMEOUT_MS = 120_000;
const HEAD_END = Buffer.from('\r\n\r\n');
/** Where a socket that is being torn down may still read into (Node asks for a buffer after each read). */
const DISCARD = Buffer.allocUnsafeSlow(16 * 1024);

/** How the store answered: a reader for the body (200, 206), or the status and S3 error `<Code>` of a refusal. */
export type ObjectResponse = { reader: S3SocketReader } | { status: number; code: string | undefined };

/**
 * One GET of an object on its way to a client, over a connection of its own whose reads land in
 * pooled 1 MiB buffers (a socket's `onread`) that are then written to the client as they are: no
 * buffer allocated per read and no byte copied in JavaScript. Node's HTTP clients (the SDK's `http`,
 * undici) read into a fresh 64 KiB buffer every time — 4,600 per 300 MB that the collector must
 * free, a third of a proxied GET's CPU (docs/benchmarks.md, figure 10c). S3 answers GetObject with
 * `Content-Length` (never chunked), so the response is the status line, headers and that many bytes.
 * A buffer goes back to the pool on its write callback; with two in flight the socket pauses, so a
 * slow client pauses the store. A body that ends short rejects instead of ending the destination:
 * the client sees a cut connection, never a short blob that looks complete.
 */
export class S3SocketReader implements BlobReader {
  /** Body bytes announced by the store. */
  length = 0;
  private readonly socket: Socket;
  private buffer: Buffer | null;
  /** Unsent body bytes are buffer[start, filled). */
  private start = 0;
  private filled = 0;
  /** Body bytes not received yet; -1 while the response head is read. */
  private remaining = -1;
  private status = 0;
  private inFlight = 0;
  private paused = false;
  private destination: Writable | null = null;
  private done = false;
  private settle: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private answered: ((response: ObjectResponse) => void) | null;
  private failed: (e: Error) => void;

  /** Sends the GET (`url` is presigned: it is the credential, never logged) and resolves once the response head is read. */
  static open(url: URL, range: ByteRange | undefined, pool: BufferPool): Promise<ObjectResponse> {
    return new Promise((resolve, reject) => new S3SocketReader(url, range, pool, resolve, reject));
  }

  private constructor(
    url: URL,
    private readonly range: ByteRange | undefined,
    private readonly pool: BufferPool,
    answered: (response: ObjectResponse) => void,
    failed: (e: Error) => void,
  ) {
    this.answered = answered;
    this.failed = failed;
    this.buffer = pool.acquire();
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const tls = url.protocol === 'https:';
    const port = Number(url.port) || (tls ? 443 : 80);
    // Node asks for the next read's buffer after each read: the free end of the current one.
    const onread = { buffer: () => (this.buffer ? this.buffer.subarray(this.filled) : DISCARD), callback: (n: number) => this.onRead(n) };
    // tls.connect takes socket.connect's options, `onread` included (Node 20; @types/node omits it).
    this.socket = tls ? connectTls({ host, port, servername: host, onread } as ConnectionOptions) : connectTcp({ host, port, onread });
    this.socket.setTimeout(CONNECT_TIMEOUT_MS);
    this.socket.once(tls ? 'secureConnect' : 'connect', () => {
      this.socket.setTimeout(IDLE_TIMEOUT_MS);
      const rangeHeader = this.range ? `Range: bytes=${this.range.start}-${this.range.end}\r\n` : '';
      this.socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: stowage\r\n${rangeHeader}Connection: close\r\n\r\n`);
    });
    this.socket.on('timeout', () => this.socket.destroy(new Error(`the object store sent nothing for ${this.remaining < 0 ? CONNECT_TIMEOUT_MS : IDLE_TIMEOUT_MS} ms`)));
    this.socket.on('error', (e) => this.fail(e));
    this.socket.on('close', () => this.onClose());
  }

  async ready(): Promise<void> {}

  pipeTo(destination: Writable): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
      if (this.done) return this.fail(new Error('the reader was closed'));
      if (destination.destroyed) return this.fail(new Error('the client closed the connection'));
      this.destination = destination;
      destination.once('close', this.onDestinationClose);
      if (this.remaining === 0) return this.flush(true);
      this.socket.resume();
    });
  }

  async close(): Promise<void> {
    // Unread bytes would keep the connection busy: it is ours alone, drop it.
    if (!this.done) this.fail(new Error('the reader was closed'));
  }

  private onRead(n: number): boolean {
    if (this.done) return false;
    const before = this.filled;
    this.filled += n;
    if (this.remaining < 0) return this.onHead(before);
    if (this.status !== 200 && this.status !== 206) return this.onErrorBody();
    this.remaining -= n;
    if (this.remaining < 0) {
      this.fail(new Error(`the object store sent more than ${this.length} bytes`));
      return false;
    }
    if (this.remaining === 0) {
      if (this.destination) this.flush(true);
      return false;
    }
    if (this.filled === this.buffer!.length) {
      if (!this.destination) return false; // cannot happen: the socket is paused until pipeTo
      this.flush(false);
      if (this.inFlight >= MAX_IN_FLIGHT) {
        this.paused = true;
        return false;
      }
    }
    return true;
  }

  /** Until the blank line: the status and `Content-Length`. Returns whether to keep reading. */
  private onHead(before: number): boolean {
    const buffer = this.buffer!;
    const end = buffer.subarray(0, this.filled).indexOf(HEAD_END, Math.max(0, before - 3));
    if (end < 0) {
      if (this.filled < buffer.length) return true;
      this.fail(new Error('the object store sent a response head over 1 MiB'));
      return false;
    }
    const head = buffer.toString('latin1', 0, end);
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(head);
    const declared = Number(/\r\ncontent-length: *(\d{1,15}) *(?=\r\n|$)/i.exec(head)?.[1] ?? -1);
    if (!status || /\r\ntransfer-encoding:/i.test(head)) {
      this.fail(new Error('the object store sent a response Stowage cannot read'));
      return false;
    }
    this.status = Number(status[1]);
    this.start = end + HEAD_END.length;
    this.remaining = declared >= 0 ? declared : Number.MAX_SAFE_INTEGER;
    if (this.status !== 200 && this.status !== 206) return this.onErrorBody();
    // The bytes asked for, from where they were asked: a store that ignored the Range (200) or
    // answered another one would otherwise be sent as the range. Shorter than asked (the object is)
    // fails in pipeTo when the store closes the connection.
    const range = this.range;
    const from = this.status === 200 ? 0 : Number(/\r\ncontent-range: *bytes (\d{1,15})-/i.exec(head)?.[1] ?? -1);
    this.length = range ? range.end - range.start + 1 : declared;
    if (declared < 0 || declared > this.length || from !== (range?.start ?? 0)) {
      this.fail(new Error(declared < 0 ? 'the object store sent a body without Content-Length' : 'the object store did not send the bytes asked for'));
      return false;
    }
    this.remaining = this.length - (this.filled - this.start);
    if (this.filled - this.start > declared) {
      this.fail(new Error(`the object store sent more than ${declared} bytes`));
      return false;
    }
    this.answered?.({ reader: this });
    this.answered = null;
    // Nothing more is read until the body has somewhere to go.
    return false;
  }

  /** A refusal: its body (a small XML document) until complete, the buffer full or the connection ends. */
  private onErrorBody(): boolean {
    if (this.filled - this.start < this.remaining && this.filled < this.buffer!.length) return true;
    this.refused();
    return false;
  }

  private refused(): void {
    const body = this.buffer!.toString('utf8', this.start, this.filled);
    // An S3 error body's <Code> is what the log needs (AccessDenied, SlowDown…).
    const code = /<Code>([^<]{1,64})<\/Code>/.exec(body)?.[1];
    this.answered?.({ status: this.status, code });
    this.answered = null;
    this.finish();
  }

  private flush(end: boolean): void {
    const destination = this.destination!;
    const full = this.buffer!;
    const bytes = full.subarray(this.start, this.filled);
    this.buffer = end ? null : this.pool.acquire();
    this.start = 0;
    this.filled = 0;
    this.inFlight++;
    destination.write(bytes, (error) => {
      this.inFlight--;
      // On error the socket may still hold the bytes: leave that buffer to the collector.
      if (!error) this.pool.release(full);
      if (this.paused && this.inFlight < MAX_IN_FLIGHT && !this.done) {
        this.paused = false;
        this.socket.resume();
      }
    });
    if (end) {
      destination.end();
      this.finish();
    }
  }

  private readonly onDestinationClose = (): void => this.fail(new Error('the client closed the connection'));

  private onClose(): void {
    if (this.done) return;
    if (this.remaining < 0) return this.fail(new Error('the object store closed the connection before answering'));
    if (this.status !== 200 && this.status !== 206) return this.refused();
    this.fail(new Error(`the object store ended the blob ${this.remaining} bytes short`));
  }

  private fail(error: Error): void {
    if (this.done) return;
    this.finish(error);
  }

  private finish(error?: Error): void {
    this.done = true;
    this.destination?.off('close', this.onDestinationClose);
    if (this.buffer) this.pool.release(this.buffer);
    this.buffer = null;
    if (!this.socket.destroyed) this.socket.destroy();
    if (error && this.answered) this.failed(error);
    this.answered = null;
    if (error) this.settle?.reject(error);
    else this.settle?.resolve();
    this.settle = null;
  }
}
