import semver from 'semver';
import { RegistryError } from '../oci/errors.js';
import { formatImageRef, parseImageRef } from '../oci/image-ref.js';
import type { Descriptor } from '../oci/manifest.js';
import type { ManifestSummary } from '../oci/manifest-summary.js';
import type { Reference, Tag } from '../oci/reference.js';
import type { RepositoryName } from '../oci/repository-name.js';
import type { Registry, Route } from '../registry/registry.js';

/** One `prefetch.images[]` entry as the config holds it (config.ts). */
export interface PrefetchImageConfig {
  ref: string;
  tags: string[];
  tagPattern?: string | undefined;
  semver?: string | undefined;
  platforms: string[];
  pin: boolean;
}

/** An image to prefetch (and maybe pin), resolved against the registry's routing. */
export interface PrefetchTarget {
  /** As configured or asked for (`docker.io/library/alpine`, `ghcr.io/org/app@sha256:…`). */
  ref: string;
  route: Extract<Route, { kind: 'proxied' }>;
  /** How its references are chosen: fixed ones (a digest or tags), or upstream tags filtered. */
  select: { fixed: Reference[] } | { pattern: RegExp } | { semver: string };
  /** `os/arch[/variant]` of an index to fetch; null = all. */
  platforms: string[] | null;
  pin: boolean;
}

/** A configured entry (or a CLI/API ref, with defaults) as a target. Throws PARAMETER_INVALID for a ref that is not one. */
export function prefetchTarget(registry: Registry, entry: PrefetchImageConfig): PrefetchTarget {
  const ref = parseImageRef(entry.ref);
  if (!ref) throw new RegistryError('PARAMETER_INVALID', { ref: entry.ref.slice(0, 300) }, { message: 'expected an image reference such as docker.io/library/alpine:3.20' });
  const route = registry.route(`${ref.upstream}/${ref.name}` as RepositoryName);
  if (route.kind !== 'proxied' || route.upstream !== ref.upstream) {
    throw new RegistryError('PARAMETER_INVALID', { ref: entry.ref }, { message: `${formatImageRef(ref)} is not an image of a configured upstream (hosted content needs no prefetch)` });
  }
  const tags = [...(ref.tag ? [ref.tag] : []), ...(entry.tags as Tag[])];
  const select: PrefetchTarget['select'] = ref.digest
    ? { fixed: [{ kind: 'digest', digest: ref.digest }] }
    : entry.tagPattern !== undefined
      ? { pattern: new RegExp(entry.tagPattern) }
      : entry.semver !== undefined
        ? { semver: entry.semver }
        : { fixed: (tags.length > 0 ? [...new Set(tags)] : (['latest'] as Tag[])).map((tag) => ({ kind: 'tag', tag })) };
  return { ref: entry.ref, route, select, platforms: entry.platforms.length > 0 ? entry.platforms : null, pin: entry.pin };
}

/** The upstream's tags a pattern or range picks, sorted. */
export function selectTags(select: { pattern: RegExp } | { semver: string }, tags: readonly string[]): Tag[] {
  const picked = 'pattern' in select ? tags.filter((t) => select.pattern.test(t)) : tags.filter((t) => satisfies(t, select.semver));
  return [...new Set(picked)].sort() as Tag[];
}

/**
 * Whether a tag is a version in the range. Registries tag `3.20` as often as `3.20.1`: tags of one
 * to three numbers (with an optional `v`) are read as `x.y.z` with zeros filled in; other tags must
 * be semver (`1.2.3-rc.1`), whose pre-releases only match a range that names one.
 */
function satisfies(tag: string, range: string): boolean {
  const numeric = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(tag);
  const version = numeric ? `${numeric[1]}.${numeric[2] ?? 0}.${numeric[3] ?? 0}` : semver.valid(tag, { loose: true });
  return version !== null && semver.satisfies(version, range);
}

/**
 * The children of an index to fetch: those of the wanted platforms (`linux/arm64` takes every
 * variant, `linux/arm64/v8` only that one), the BuildKit attestations about them, and — with no
 * platform list — everything else too.
 */
export function selectChildren(summary: ManifestSummary, platforms: readonly string[] | null): Descriptor[] {
  if (platforms === null) return [...summary.platforms, ...summary.attestations, ...summary.otherChildren];
  const wanted = summary.platforms.filter((child) =>
    platforms.some((p) => {
      const [os, architecture, variant] = p.split('/');
      return child.platform.os === os && child.platform.architecture === architecture && (variant === undefined || child.platform.variant === variant);
    }),
  );
  const chosen = new Set(wanted.map((c) => c.digest));
  const attestations = summary.attestations.filter((a) => chosen.has(a.annotations?.['vnd.docker.reference.digest'] as never));
  return [...wanted, ...attestations];
}

/** `docker.io/library/alpine:3.20` or `…@sha256:…`: how one fetched reference is shown. */
export function describeReference(target: PrefetchTarget, reference: Reference): string {
  const base = `${target.route.upstream}/${target.route.remoteName}`;
  return reference.kind === 'tag' ? `${base}:${reference.tag}` : `${base}@${reference.digest}`;
}
