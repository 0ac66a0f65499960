import { RegistryError } from '../oci/errors.js';
import type { ByteRange } from '../storage/blob-store.js';
import type { RangeRequest } from './repository.js';

/**
 * Resolves a Range request against a blob's size; throws 416 (with `Content-Range: bytes *\/size`)
 * when nothing of it is satisfiable, or when its last byte is before its first (`bytes=500-0`).
 */
export function resolveRange(range: RangeRequest, size: number): ByteRange {
  let start: number;
  let end: number;
  if ('suffix' in range) {
    start = Math.max(size - range.suffix, 0);
    end = size - 1;
  } else {
    start = range.start;
    end = Math.min(range.end ?? size - 1, size - 1);
  }
  if (size === 0 || start >= size || start > end || ('suffix' in range && range.suffix === 0)) {
    throw new RegistryError('RANGE_NOT_SATISFIABLE', { size }, { message: `requested range not satisfiable: the blob has ${size} bytes`, headers: { 'Content-Range': `bytes */${size}` } });
  }
  return { start, end };
}

/** The bytes a response sends: the resolved range, or the whole blob when none was asked for. */
export const bytesToSend = (resolved: ByteRange | undefined, size: number): ByteRange => resolved ?? { start: 0, end: size - 1 };
