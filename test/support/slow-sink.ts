import { Writable } from 'node:stream';

/**
 * A destination that takes its time, as a busy socket does: each chunk is copied only when its write
 * completes, a few milliseconds later. A reader that reused a buffer before the write callback would
 * show up here as wrong bytes.
 */
export function slowSink(delayMs = 2): { sink: Writable; received: () => Buffer } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _encoding, callback) {
      setTimeout(() => {
        chunks.push(Buffer.from(chunk));
        callback();
      }, delayMs);
    },
  });
  return { sink, received: () => Buffer.concat(chunks) };
}
