import { isDigest, type Digest } from './digest.js';
import { isTag, type Tag } from './reference.js';
import { isRepositoryName, type RepositoryName } from './repository-name.js';

/** `docker.io/library/alpine:3.20`, `ghcr.io/org/app@sha256:…`: an image as the config and the CLI name it. */
export interface ImageRef {
  /** The first component: a configured upstream's name (`docker.io`, `ghcr.io`, `registry:5000`). */
  upstream: string;
  /** The rest: the repository at that upstream (before `library/` is added for Docker Hub). */
  name: RepositoryName;
  tag: Tag | null;
  digest: Digest | null;
}

/** Parses `<upstream>/<name>[:tag][@digest]`; null when it is not one. */
export function parseImageRef(text: string): ImageRef | null {
  const at = text.indexOf('@');
  const digest = at >= 0 ? text.slice(at + 1) : null;
  if (digest !== null && !isDigest(digest)) return null;
  let rest = at >= 0 ? text.slice(0, at) : text;
  const slash = rest.indexOf('/');
  if (slash <= 0) return null;
  const upstream = rest.slice(0, slash);
  rest = rest.slice(slash + 1);
  // A tag's `:` comes after the last `/` (the upstream's port is gone already).
  const colon = rest.lastIndexOf(':');
  const tag = colon > rest.lastIndexOf('/') ? rest.slice(colon + 1) : null;
  const name = tag === null ? rest : rest.slice(0, colon);
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?$/.test(upstream) || !isRepositoryName(name) || (tag !== null && !isTag(tag))) return null;
  return { upstream, name, tag: tag as Tag | null, digest: digest as Digest | null };
}

/** The text form again: `upstream/name[:tag][@digest]`. */
export const formatImageRef = (ref: Pick<ImageRef, 'upstream' | 'name' | 'tag' | 'digest'>): string =>
  `${ref.upstream}/${ref.name}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
