import { RegistryError } from '../../oci/errors.js';
import { parseReference, type Reference, type Tag } from '../../oci/reference.js';
import { parseRepositoryName, type RepositoryName } from '../../oci/repository-name.js';

/**
 * A path under /api/v1/repositories/, parsed from the right like /v2 paths: the name is a canonical
 * repository name with raw `/` (`docker.io/library/alpine`), so `tags` and `manifests` are reserved
 * suffixes. The name is validated undecoded (valid names never need percent-encoding, so `%2F` is
 * refused rather than read as a second spelling); the tag or digest after it is decoded once.
 */
export type ApiRepositoryPath =
  | { target: 'repository'; name: RepositoryName }
  | { target: 'tags'; name: RepositoryName }
  | { target: 'tag'; name: RepositoryName; tag: Tag }
  | { target: 'refresh'; name: RepositoryName; tag: Tag }
  | { target: 'manifest'; name: RepositoryName; reference: Reference }
  | { target: 'evict'; name: RepositoryName; reference: Reference }
  | { target: 'pin'; name: RepositoryName; reference: Reference };

export function parseApiRepositoryPath(rawPath: string): ApiRepositoryPath {
  let match: RegExpExecArray | null;
  if ((match = /^(.+)\/tags\/?$/.exec(rawPath))) return { target: 'tags', name: parseRepositoryName(match[1]!) };
  if ((match = /^(.+)\/tags\/([^/]+)\/refresh$/.exec(rawPath))) return { target: 'refresh', name: parseRepositoryName(match[1]!), tag: tagOf(match[2]!) };
  if ((match = /^(.+)\/tags\/([^/]+)$/.exec(rawPath))) return { target: 'tag', name: parseRepositoryName(match[1]!), tag: tagOf(match[2]!) };
  if ((match = /^(.+)\/manifests\/([^/]+)\/evict$/.exec(rawPath))) {
    return { target: 'evict', name: parseRepositoryName(match[1]!), reference: parseReference(decode(match[2]!)) };
  }
  if ((match = /^(.+)\/manifests\/([^/]+)\/pin$/.exec(rawPath))) {
    return { target: 'pin', name: parseRepositoryName(match[1]!), reference: parseReference(decode(match[2]!)) };
  }
  if ((match = /^(.+)\/manifests\/([^/]+)$/.exec(rawPath))) {
    return { target: 'manifest', name: parseRepositoryName(match[1]!), reference: parseReference(decode(match[2]!)) };
  }
  return { target: 'repository', name: parseRepositoryName(rawPath.replace(/\/$/, '')) };
}

function tagOf(segment: string): Tag {
  const reference = parseReference(decode(segment));
  if (reference.kind !== 'tag') throw new RegistryError('TAG_INVALID', { tag: segment.slice(0, 200) }, { message: 'expected a tag' });
  return reference.tag;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // left encoded, it fails validation with a clear code
  }
}
