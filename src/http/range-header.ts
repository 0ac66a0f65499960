import type { RangeRequest } from '../registry/repository.js';

/**
 * A single `bytes=` range. Multiple ranges or other units are ignored (the whole blob is sent),
 * which HTTP allows; a malformed header is ignored the same way. A range whose last byte is before
 * its first (`bytes=500-0`) is passed on as it is, so that resolving it answers 416: RFC 9110 lets a
 * server ignore or reject it, and the OCI conformance suite counts ignoring it as no Range support.
 */
export function parseRangeHeader(header: string | undefined): RangeRequest | null {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  if (match[1] === '') return { suffix: Number(match[2]) };
  const start = Number(match[1]);
  if (match[2] === '') return { start };
  return { start, end: Number(match[2]) };
}

/** PATCH `Content-Range: <start>-<end>` (the spec's form; `bytes ` prefixes tolerated). */
export function parseContentRange(header: string | undefined): { start: number; end: number } | null | 'invalid' {
  if (header === undefined) return null;
  const match = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!match) return 'invalid';
  const start = Number(match[1]);
  const end = Number(match[2]);
  return end >= start ? { start, end } : 'invalid';
}
