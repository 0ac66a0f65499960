import type { Readable } from 'node:stream';
import { abortReason } from './concurrency-gate.js';
import { UpstreamError } from './upstream.js';
import { destroyBody } from './destroy-body.js';

/**
 * Reads a whole (small) response body into memory, refusing to hold more than `maxBytes`: the stream
 * is destroyed as soon as the limit is passed, and the read fails with UpstreamError 'invalid'.
 * Network failures while reading are 'unavailable'. The stream is always consumed or destroyed.
 */
export async function readBodyWithLimit(body: Readable, maxBytes: number, what: string, signal?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of body) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      length += buffer.length;
      if (length > maxBytes) {
        destroyBody(body);
        throw new UpstreamError('invalid', `${what} exceeds ${maxBytes} bytes`);
      }
      chunks.push(buffer);
    }
  } catch (error) {
    destroyBody(body);
    if (error instanceof UpstreamError) throw error;
    if (signal?.aborted) throw abortReason(signal);
    throw new UpstreamError('unavailable', `${what} was interrupted`, { cause: error });
  }
  return Buffer.concat(chunks, length);
}
