import type { IncomingHttpHeaders } from 'node:http';
import { isDigest, type Digest } from '../oci/digest.js';

/** The first value of a response header (undici lower-cases names; repeated headers become arrays). */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `application/vnd.oci.image.manifest.v1+json; charset=utf-8` → the media type alone, lower-cased. */
export function mediaTypeOf(headers: IncomingHttpHeaders): string | null {
  const value = headerValue(headers, 'content-type')?.split(';')[0]?.trim().toLowerCase();
  return value ? value : null;
}

/** Content-Length as a safe non-negative integer, or null. */
export function contentLength(headers: IncomingHttpHeaders): number | null {
  const value = headerValue(headers, 'content-length');
  if (value === undefined || !/^\d+$/.test(value.trim())) return null;
  const length = Number(value);
  return Number.isSafeInteger(length) ? length : null;
}

/** `Docker-Content-Digest` when it is a well-formed digest; anything else counts as absent. */
export function dockerContentDigest(headers: IncomingHttpHeaders): Digest | null {
  const value = headerValue(headers, 'docker-content-digest')?.trim();
  return value !== undefined && isDigest(value) ? value : null;
}

export interface ContentRange {
  start: number;
  end: number;
  /** null for `*` (unknown total). */
  total: number | null;
}

/** `Content-Range: bytes 100-199/1000`. */
export function parseContentRange(headers: IncomingHttpHeaders): ContentRange | null {
  const value = headerValue(headers, 'content-range');
  const match = value === undefined ? null : /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value);
  if (!match?.[1] || !match[2] || !match[3]) return null;
  const range = { start: Number(match[1]), end: Number(match[2]), total: match[3] === '*' ? null : Number(match[3]) };
  if (range.end < range.start || (range.total !== null && range.end >= range.total)) return null;
  return range;
}
