import semver from 'semver';
import { parseImageRef } from '../oci/image-ref.js';
import { isTag } from '../oci/reference.js';
import { ConfigError } from './schema.js';

/**
 * A `prefetch.images[]` entry names its tags one way: the ref's own `@digest`, or its `:tag` and/or
 * `tags`, or `tagPattern`, or `semver` — never two of these (which one would win is a guess).
 */
export function checkPrefetchImage(entry: { ref: string; tags: string[]; tagPattern?: string | undefined; semver?: string | undefined }, key: string): void {
  const ref = parseImageRef(entry.ref);
  if (!ref) throw new ConfigError(`config: ${key}.ref: expected <upstream>/<repository>[:tag][@digest] such as docker.io/library/alpine, got ${JSON.stringify(entry.ref)}`);
  const ways = [ref.digest !== null, ref.tag !== null || entry.tags.length > 0, entry.tagPattern !== undefined, entry.semver !== undefined].filter(Boolean).length;
  if (ways > 1) throw new ConfigError(`config: ${key}: name the tags one way only: the ref's @digest, tags (or the ref's :tag), tagPattern or semver`);
  if (entry.tagPattern !== undefined) {
    try {
      new RegExp(entry.tagPattern);
    } catch (e) {
      throw new ConfigError(`config: ${key}.tagPattern: not a regular expression: ${(e as Error).message}`);
    }
  }
  if (entry.semver !== undefined && semver.validRange(entry.semver) === null) {
    throw new ConfigError(`config: ${key}.semver: not a semver range (such as ">=3.19 <4" or "^1.2"), got ${JSON.stringify(entry.semver)}`);
  }
  for (const tag of entry.tags) {
    if (!isTag(tag)) throw new ConfigError(`config: ${key}.tags: ${JSON.stringify(tag)} is not a valid tag`);
  }
}
