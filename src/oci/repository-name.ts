import { RegistryError } from './errors.js';

/** A repository name that matched the distribution-spec grammar; safe to use as a relative path. */
export type RepositoryName = string & { readonly __brand: 'RepositoryName' };

// The spec's grammar: path components of lowercase alphanumerics joined by `.`, `_`, `__` or `-+`.
// No component can be empty, `.` or `..`, and none starts with `_`, so names can never escape or
// collide with the `_`-prefixed bookkeeping directories of the store.
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME_PATTERN = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
export const MAX_NAME_LENGTH = 255;

export function isRepositoryName(value: string): value is RepositoryName {
  return value.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(value);
}

export function parseRepositoryName(value: string): RepositoryName {
  if (!isRepositoryName(value)) {
    throw new RegistryError('NAME_INVALID', { name: value.slice(0, 300) }, { message: 'invalid repository name' });
  }
  return value;
}
