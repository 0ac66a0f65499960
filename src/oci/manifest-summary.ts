import { isDigest, type Digest } from './digest.js';
import type { Descriptor } from './manifest.js';
import { INDEX_MEDIA_TYPES } from './media-types.js';

/**
 * What a person wants to know about a stored manifest, read from its bytes with no I/O: image,
 * index or artifact; platforms; layers; what it is about. Stored manifests were validated when
 * they arrived; this reading is still defensive, since a bad field must not break a page.
 */
export type ManifestKind = 'image' | 'index' | 'artifact';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ManifestSummary {
  mediaType: string;
  kind: ManifestKind;
  artifactType: string | null;
  /** Image manifests: the config descriptor. */
  config: Descriptor | null;
  layers: Descriptor[];
  /** Indexes: the children that are real platforms. */
  platforms: Array<Descriptor & { platform: Platform }>;
  /** Indexes: BuildKit attestation entries (`unknown/unknown` with `vnd.docker.reference.type`). */
  attestations: Descriptor[];
  /** Indexes: children that are neither (no platform given). */
  otherChildren: Descriptor[];
  annotations: Record<string, string>;
  subject: Descriptor | null;
}

const IMAGE_CONFIG_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);

const REFERENCE_TYPE = 'vnd.docker.reference.type';

const isDescriptor = (v: unknown): v is Descriptor => {
  const d = v as Partial<Descriptor> | null;
  return !!d && typeof d === 'object' && typeof d.mediaType === 'string' && typeof d.digest === 'string' && isDigest(d.digest) && typeof d.size === 'number';
};
const descriptors = (v: unknown): Descriptor[] => (Array.isArray(v) ? v.filter(isDescriptor) : []);
const stringMap = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
};

export const platformName = (p: Platform): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

export function summarizeManifest(bytes: Uint8Array, mediaType: string): ManifestSummary {
  let m: Record<string, unknown> = {};
  try {
    const json: unknown = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
    if (json && typeof json === 'object' && !Array.isArray(json)) m = json as Record<string, unknown>;
  } catch {
    // an unreadable manifest shows as an empty image
  }
  const artifactType = typeof m.artifactType === 'string' ? m.artifactType : null;
  const base = {
    mediaType,
    artifactType,
    annotations: stringMap(m.annotations),
    subject: isDescriptor(m.subject) ? m.subject : null,
    platforms: [] as ManifestSummary['platforms'],
    attestations: [] as Descriptor[],
    otherChildren: [] as Descriptor[],
  };
  if (INDEX_MEDIA_TYPES.has(mediaType)) {
    for (const child of descriptors(m.manifests)) {
      const p = child.platform;
      const annotations = stringMap(child.annotations);
      if (p && p.os === 'unknown' && p.architecture === 'unknown' && annotations[REFERENCE_TYPE]) base.attestations.push(child);
      else if (p && typeof p.os === 'string' && typeof p.architecture === 'string') base.platforms.push(child as Descriptor & { platform: Platform });
      else base.otherChildren.push(child);
    }
    return { ...base, kind: artifactType ? 'artifact' : 'index', config: null, layers: [] };
  }
  const config = isDescriptor(m.config) ? m.config : null;
  const isImage = !artifactType && config !== null && IMAGE_CONFIG_TYPES.has(config.mediaType);
  return { ...base, kind: isImage ? 'image' : 'artifact', config, layers: descriptors(m.layers) };
}

/** What a referrer (or a cosign-style tag) is, by its artifact type. */
export type ReferrerKind = 'signature' | 'sbom' | 'attestation' | 'other';

export function referrerKind(artifactType: string | undefined | null): ReferrerKind {
  const t = (artifactType ?? '').toLowerCase();
  if (/signature|\.sig\b|cosign\.artifact\.sig|notary/.test(t)) return 'signature';
  if (/sbom|spdx|cyclonedx|syft/.test(t)) return 'sbom';
  if (/in-toto|intoto|attestation|provenance|slsa|sigstore\.bundle/.test(t)) return 'attestation';
  return 'other';
}

const COSIGN_TAG = /^(sha256|sha512)-([a-f0-9]{64}|[a-f0-9]{128})\.(sig|att|sbom)$/;
const COSIGN_KINDS = { sig: 'signature', att: 'attestation', sbom: 'sbom' } as const;

/** `sha256-<hex>.sig` / `.att` / `.sbom`: cosign's tag-based scheme, naming the manifest it is about. */
export function cosignTag(tag: string): { subject: Digest; kind: ReferrerKind } | null {
  const match = COSIGN_TAG.exec(tag);
  if (!match) return null;
  const subject = `${match[1]}:${match[2]}`;
  if (!isDigest(subject)) return null;
  return { subject, kind: COSIGN_KINDS[match[3] as keyof typeof COSIGN_KINDS] };
}
