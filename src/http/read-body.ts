import type { Readable } from 'node:stream';
import { RegistryError } from '../oci/errors.js';

/**
 * Reads a small body (a manifest) whole, failing with 413 as soon as it exceeds `maxBytes`. The
 * rest of an oversized body is drained, not destroyed, so the client still receives the 413.
 */
export function readBody(
  body: Readable,
  maxBytes: number,
  tooLarge: () => RegistryError = () => new RegistryError('MANIFEST_TOO_LARGE', { limit: maxBytes }, { message: `manifest exceeds ${maxBytes} bytes` }),
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      body.off('data', onData);
      body.resume();
      reject(tooLarge());
    };
    body.on('data', onData);
    body.once('end', () => resolve(Buffer.concat(chunks, Math.min(size, maxBytes))));
    body.once('error', reject);
  });
}
