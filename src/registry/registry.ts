import { RegistryError } from '../oci/errors.js';
import { isRepositoryName, type RepositoryName } from '../oci/repository-name.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import { hostedKey, proxiedKey, type RepositoryKey } from '../storage/repository-key.js';
import type { Digest } from '../oci/digest.js';
import type { BlobHolders } from './blob-holders.js';
import type { NamePatterns } from './name-pattern.js';
import type { Repository } from './repository.js';

/**
 * Where a client-visible repository name leads. `canonical` is the one name the repository has
 * however it was addressed — its own name when hosted, `<upstream>/<remote name>` when proxied
 * (`docker.io/library/alpine` for `alpine`, `library/alpine?ns=docker.io` or `docker.io/alpine`):
 * access rules and token scopes match it, so no addressing form reaches around a rule.
 */
export type Route =
  | { kind: 'hosted'; name: RepositoryName; key: RepositoryKey; canonical: string }
  | { kind: 'proxied'; name: RepositoryName; upstream: string; remoteName: RepositoryName; key: RepositoryKey; canonical: string };

export interface RegistryOptions {
  hosted: NamePatterns;
  /** Configured upstream names (`docker.io`, `ghcr.io`); nothing else can ever be contacted. */
  upstreams: ReadonlySet<string>;
  defaultUpstream: string | null;
  metadata: MetadataStore;
  createHosted(route: Extract<Route, { kind: 'hosted' }>): Repository;
  createProxied(route: Extract<Route, { kind: 'proxied' }>): Repository;
  /** Which repositories link a blob (mounts without `from`). */
  holders: BlobHolders;
}

/**
 * Maps a repository name (and containerd's `?ns=`) to a Repository:
 *   1. a name matching a hosted pattern is hosted — hosted names never fall through to an upstream;
 *   2. `?ns=<upstream>` selects that upstream for the whole name (minus a leading `<upstream>/`);
 *   3. `<upstream>/<rest>` (path-prefix mode) selects that upstream for `<rest>`;
 *   4. anything else goes to `defaultUpstream`.
 * An `ns` or host-like prefix that is not configured is NAME_UNKNOWN and never causes a connection.
 */
export class Registry {
  constructor(private readonly options: RegistryOptions) {}

  route(name: RepositoryName, ns?: string): Route {
    const { hosted, upstreams, defaultUpstream } = this.options;
    if (hosted.matches(name)) return { kind: 'hosted', name, key: hostedKey(name), canonical: name };
    if (ns !== undefined) {
      if (!upstreams.has(ns)) throw unknownUpstream(name, ns);
      // containerd with `override_path` to `/v2/<ns>` sends the path prefix *and* `?ns=<ns>`:
      // the prefix is not part of the remote name (registry namespaces never contain dots).
      const remote = name.startsWith(`${ns}/`) ? (name.slice(ns.length + 1) as RepositoryName) : name;
      return this.proxied(name, ns, remote);
    }
    const slash = name.indexOf('/');
    const first = slash > 0 ? name.slice(0, slash) : '';
    if (first && upstreams.has(first)) return this.proxied(name, first, name.slice(slash + 1) as RepositoryName);
    // A host-like first component (Docker Hub user names have no dots) names an upstream we do not have.
    if (first.includes('.')) throw unknownUpstream(name, first);
    if (defaultUpstream === null) throw new RegistryError('NAME_UNKNOWN', { name });
    return this.proxied(name, defaultUpstream, name);
  }

  repository(name: RepositoryName, ns?: string): Repository {
    return this.open(this.route(name, ns));
  }

  open(route: Route): Repository {
    return route.kind === 'hosted' ? this.options.createHosted(route) : this.options.createProxied(route);
  }

  /** The canonical name a repository name without `ns` stands for (token scopes), or null when it names none. */
  canonicalName(name: string): string | null {
    if (!isRepositoryName(name)) return null;
    try {
      return this.route(name).canonical;
    } catch {
      return null;
    }
  }

  /** Canonical names of the repositories known to link `digest`: the candidates of a mount without `from`. */
  holdersOf(digest: Digest): string[] {
    return this.options.holders.of(digest);
  }

  /** Names of every repository with stored manifests, as clients address them (proxied ones prefixed). */
  async catalog(): Promise<string[]> {
    return (await this.catalogEntries()).map((e) => e.name);
  }

  /** The catalog's names with where their metadata lives, sorted by name. */
  async catalogEntries(): Promise<Array<{ name: string; key: RepositoryKey }>> {
    const keys = await this.options.metadata.listRepositories();
    return keys.map((key) => ({ name: key.replace(/^(hosted|proxied)\//, ''), key })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The tags stored for a repository (for a proxied one: those cached; the upstream is not asked). */
  storedTags(key: RepositoryKey): Promise<string[]> {
    return this.options.metadata.listTags(key);
  }

  private proxied(name: RepositoryName, upstream: string, remote: RepositoryName): Route {
    // Docker Hub's official images live under library/; every client adds it, so must we.
    const remoteName = upstream === 'docker.io' && !remote.includes('/') ? (`library/${remote}` as RepositoryName) : remote;
    if (!isRepositoryName(remoteName)) throw new RegistryError('NAME_INVALID', { name });
    return { kind: 'proxied', name, upstream, remoteName, key: proxiedKey(upstream, remoteName), canonical: `${upstream}/${remoteName}` };
  }
}

const unknownUpstream = (name: string, upstream: string): RegistryError =>
  new RegistryError('NAME_UNKNOWN', { name, upstream }, { message: `upstream ${upstream} is not configured` });
