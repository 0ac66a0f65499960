import { isDigest, type Digest } from './digest.js';
import { RegistryError } from './errors.js';

export type Tag = string & { readonly __brand: 'Tag' };

/** A manifest reference: either a tag or a digest, never an unchecked string. */
export type Reference = { kind: 'tag'; tag: Tag } | { kind: 'digest'; digest: Digest };

const TAG_PATTERN = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

export const isTag = (value: string): value is Tag => TAG_PATTERN.test(value);

/** A reference containing `:` must be a valid digest (DIGEST_INVALID otherwise); anything else a tag. */
export function parseReference(value: string): Reference {
  if (value.includes(':')) {
    if (!isDigest(value)) throw new RegistryError('DIGEST_INVALID', { digest: value.slice(0, 200) }, { message: 'invalid digest' });
    return { kind: 'digest', digest: value };
  }
  if (!isTag(value)) throw new RegistryError('TAG_INVALID', { tag: value.slice(0, 200) }, { message: 'invalid tag: up to 128 characters of [A-Za-z0-9_.-], not starting with . or -' });
  return { kind: 'tag', tag: value };
}

export const referenceString = (ref: Reference): string => (ref.kind === 'tag' ? ref.tag : ref.digest);
