import { INDEX_MEDIA_TYPES } from './media-types.js';

/** Parsed headers by their text: clients send a handful of distinct Accept lines, over and over. */
const parsed = new Map<string, ReadonlySet<string> | null>();
const PARSED_MAX = 256;

/**
 * The media types a client accepts, from every `Accept` header line, comma lists and q-values.
 * `q=0` excludes a type. Returns null when the client sent no Accept at all (accept anything).
 * The set is shared between requests: read it, never change it.
 */
export function parseAccept(header: string | string[] | undefined): ReadonlySet<string> | null {
  if (header === undefined) return null;
  const text = Array.isArray(header) ? header.join(',') : header;
  const known = parsed.get(text);
  if (known !== undefined) return known;
  if (parsed.size >= PARSED_MAX) parsed.clear();
  const result = parseAcceptLines(Array.isArray(header) ? header : [header]);
  parsed.set(text, result);
  return result;
}

function parseAcceptLines(lines: string[]): ReadonlySet<string> | null {
  const accepted = new Set<string>();
  for (const line of lines) {
    for (const part of line.split(',')) {
      const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
      if (!type) continue;
      const q = params.find((p) => p.startsWith('q='));
      if (q !== undefined && Number(q.slice(2)) === 0) continue;
      accepted.add(type);
    }
  }
  return accepted.size > 0 ? accepted : null;
}

/**
 * Whether a stored manifest of `mediaType` may be returned to a client with these Accept types.
 * Image manifests are always served (old clients omit OCI types yet handle them; this matches
 * distribution). An index or manifest list needs its type, `*\/*` or `application/*` to be listed,
 * because a client that cannot read an index would fail later with a confusing error.
 */
export function acceptsManifest(accepted: ReadonlySet<string> | null, mediaType: string): boolean {
  if (accepted === null || !INDEX_MEDIA_TYPES.has(mediaType)) return true;
  return accepted.has('*/*') || accepted.has('application/*') || accepted.has(mediaType);
}
