import type { RepositoryName } from '../oci/repository-name.js';

/**
 * Where a repository's metadata lives: `hosted/<name>` or `proxied/<upstream>/<name>`. The same
 * `library/alpine:latest` under two upstreams therefore never shares a tag. Blobs are shared.
 */
export type RepositoryKey = string & { readonly __brand: 'RepositoryKey' };

export const hostedKey = (name: RepositoryName): RepositoryKey => `hosted/${name}` as RepositoryKey;

/** `upstream` is a configured upstream name (validated at config load as a host name). */
export const proxiedKey = (upstream: string, name: RepositoryName): RepositoryKey => `proxied/${upstream}/${name}` as RepositoryKey;
