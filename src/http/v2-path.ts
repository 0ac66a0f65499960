import { parseDigest, type Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import { parseReference, type Reference } from '../oci/reference.js';
import { parseRepositoryName, type RepositoryName } from '../oci/repository-name.js';

/** A request path under /v2/, parsed and validated. Names are parsed from the right, as they may contain `/`. */
export type V2Path =
  | { endpoint: 'base' }
  | { endpoint: 'catalog' }
  | { endpoint: 'manifest'; name: RepositoryName; reference: Reference }
  | { endpoint: 'blob'; name: RepositoryName; digest: Digest }
  | { endpoint: 'uploads'; name: RepositoryName }
  | { endpoint: 'upload'; name: RepositoryName; id: string }
  | { endpoint: 'tags'; name: RepositoryName }
  | { endpoint: 'referrers'; name: RepositoryName; digest: Digest };

export type Endpoint = V2Path['endpoint'];

const PATTERNS: Array<[RegExp, (name: RepositoryName, last: string) => V2Path]> = [
  [/^(.+)\/manifests\/([^/]+)$/, (name, ref) => ({ endpoint: 'manifest', name, reference: parseReference(decodeSegment(ref)) })],
  [/^(.+)\/blobs\/uploads\/?$/, (name) => ({ endpoint: 'uploads', name })],
  [/^(.+)\/blobs\/uploads\/([^/]+)$/, (name, id) => ({ endpoint: 'upload', name, id })],
  [/^(.+)\/blobs\/([^/]+)$/, (name, digest) => ({ endpoint: 'blob', name, digest: parseDigest(decodeSegment(digest)) })],
  [/^(.+)\/tags\/list$/, (name) => ({ endpoint: 'tags', name })],
  [/^(.+)\/referrers\/([^/]+)$/, (name, digest) => ({ endpoint: 'referrers', name, digest: parseDigest(decodeSegment(digest)) })],
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
 * spelling of another name. Returns null for paths that are not registry endpoints.
 */
export function parseV2Path(rawPath: string): V2Path | null {
  if (rawPath === '') return { endpoint: 'base' };
  if (rawPath === '_catalog') return { endpoint: 'catalog' };
  for (const [pattern, build] of PATTERNS) {
    const match = pattern.exec(rawPath);
    if (match) return build(parseRepositoryName(match[1]!), match[2] ?? '');
  }
  return null;
}

export const notFound = (): RegistryError => new RegistryError('NOT_FOUND', null, { message: 'no such endpoint' });
