import { parseDigest, type Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import { isTag, parseReference, type Reference } from '../oci/reference.js';
import { parseRepositoryName, type RepositoryName } from '../oci/repository-name.js';

/** A request path under /v2/, parsed and validated. Names are parsed from the right, as they may contain `/`. */
export type V2Path =
  | { endpoint: 'base' }
  | { endpoint: 'catalog' }
  | { endpoint: 'allTags' }
  | { endpoint: 'manifest'; name: RepositoryName; reference: Reference }
  | { endpoint: 'blob'; name: RepositoryName; digest: Digest }
  | { endpoint: 'uploads'; name: RepositoryName }
  | { endpoint: 'upload'; name: RepositoryName; id: string }
  | { endpoint: 'tags'; name: RepositoryName }
  | { endpoint: 'referrers'; name: RepositoryName; digest: Digest }
  /** Garbage collection (admins): `/v2/_gc` for every hosted repository, `/v2/<name>/_gc` for one. */
  | { endpoint: 'gc'; name: RepositoryName | null };

export type Endpoint = V2Path['endpoint'];

type Build = (name: RepositoryName, last: string, method: string) => V2Path;

/** Methods that look a manifest up rather than write one. */
const LOOKUPS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'DELETE']);

/**
 * A lookup by a reference that is neither a digest nor a valid tag names a manifest that cannot
 * exist: 404 MANIFEST_UNKNOWN, as distribution answers (its route never matches such a reference)
 * and as the OCI conformance suite expects (it probes `.INVALID_MANIFEST_NAME` as "a nonexistent
 * manifest"). A PUT under such a tag stays 400 (TAG_INVALID, code MANIFEST_INVALID): there the request itself is wrong.
 */
const manifest: Build = (name, ref, method) => {
  const value = decodeSegment(ref);
  if (LOOKUPS.has(method) && !value.includes(':') && !isTag(value)) {
    throw new RegistryError('MANIFEST_UNKNOWN', { tag: value }, { message: 'no manifest can have this tag: it is not a valid tag' });
  }
  return { endpoint: 'manifest', name, reference: parseReference(value) };
};
const upload: Build = (name, id) => ({ endpoint: 'upload', name, id });
const blob: Build = (name, digest) => ({ endpoint: 'blob', name, digest: parseDigest(decodeSegment(digest)) });
const referrers: Build = (name, digest) => ({ endpoint: 'referrers', name, digest: parseDigest(decodeSegment(digest)) });

const PATTERNS: Array<[RegExp, Build]> = [
  [/^(.+)\/manifests\/([^/]+)$/, manifest],
  [/^(.+)\/blobs\/uploads\/?$/, (name) => ({ endpoint: 'uploads', name })],
  [/^(.+)\/blobs\/uploads\/([^/]+)$/, upload],
  [/^(.+)\/blobs\/([^/]+)$/, blob],
  [/^(.+)\/tags\/list$/, (name) => ({ endpoint: 'tags', name })],
  [/^(.+)\/referrers\/([^/]+)$/, referrers],
  // `_gc` cannot be a name component (components start with a letter or digit): no repository shadows it.
  [/^(.+)\/_gc$/, (name) => ({ endpoint: 'gc', name })],
];

// Tried only when PATTERNS found nothing: a digest or upload id that spans several segments, as in
// `blobs/sha256:../../x` or `blobs/uploads/../../etc` sent raw (fetch and most clients normalise
// such paths before sending). They are answered as the endpoint they aim at, so the client is told
// which part is wrong (DIGEST_INVALID, BLOB_UPLOAD_UNKNOWN) rather than a bare 404. A name cannot
// contain `:`, so the first segment with a `:` after `manifests/`, `blobs/` or `referrers/` starts
// the reference; the reference then fails validation because it contains `/`.
const MULTI_SEGMENT: Array<[RegExp, Build]> = [
  [/^([^:]+)\/manifests\/([^/:]*:.*)$/, manifest],
  [/^([^:]+)\/blobs\/uploads\/(.+)$/, upload],
  [/^([^:]+)\/blobs\/([^/:]*:.*)$/, blob],
  [/^([^:]+)\/referrers\/([^/:]*:.*)$/, referrers],
];

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // left encoded, it fails validation with a clear code
  }
}

/**
 * `rawPath` is the undecoded path after `/v2/` (no query). The name part is validated undecoded:
 * valid names never need percent-encoding, so `%2e%2e` or `%2f` are NAME_INVALID, not a second
 * spelling of another name. Returns null for paths that are not registry endpoints. `method` only
 * changes how an impossible manifest tag is refused (see `manifest`).
 */
export function parseV2Path(rawPath: string, method = 'GET'): V2Path | null {
  if (rawPath === '') return { endpoint: 'base' };
  if (rawPath === '_catalog') return { endpoint: 'catalog' };
  if (rawPath === 'tags/list') return { endpoint: 'allTags' };
  if (rawPath === '_gc') return { endpoint: 'gc', name: null };
  for (const [pattern, build] of [...PATTERNS, ...MULTI_SEGMENT]) {
    const match = pattern.exec(rawPath);
    if (match) return build(parseRepositoryName(match[1]!), match[2] ?? '', method);
  }
  return null;
}

/** 404 for a path that names no endpoint; the detail carries the path (without the query), cut short. */
export const endpointUnknown = (rawUrl: string): RegistryError =>
  new RegistryError('ENDPOINT_UNKNOWN', { path: rawUrl.split('?')[0]!.slice(0, 200) }, { message: 'no such endpoint' });
