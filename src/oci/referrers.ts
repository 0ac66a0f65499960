import { manifestInvalid } from './descriptor-fields.js';
import { digestAlgorithm, digestHex, type Digest } from './digest.js';
import { jsonNestsDeeperThan } from './json-depth.js';
import { MAX_MANIFEST_DEPTH, parseManifest, type Descriptor } from './manifest.js';
import { INDEX_MEDIA_TYPES } from './media-types.js';
import type { Tag } from './reference.js';

/**
 * The referrers tag schema (distribution-spec, "Referrers Tag Schema"): registries without the
 * referrers API hold an index of a subject's referrers under the tag `<alg>-<hex>`, the hex cut to 64
 * characters so that a sha512 subject still makes a valid tag. oras, notation and cosign read and
 * write it; Stowage reads it when an upstream has no referrers API.
 */
export function referrersTag(subject: Digest): Tag {
  return `${digestAlgorithm(subject)}-${digestHex(subject).slice(0, 64)}` as Tag;
}

/**
 * The referrers an OCI image index lists (a referrers API page, or the index under the referrers
 * tag): its `manifests`, each a valid descriptor. Null when the bytes are a manifest but no index.
 * The depth is bounded before parsing: the descriptors are served again, and serialising a value
 * nested thousands deep would overflow the stack. Throws MANIFEST_INVALID for anything else.
 */
export function parseReferrersIndex(bytes: Uint8Array, mediaType: string | undefined): Descriptor[] | null {
  if (jsonNestsDeeperThan(bytes, MAX_MANIFEST_DEPTH)) throw manifestInvalid(`nested deeper than ${MAX_MANIFEST_DEPTH} levels`);
  const parsed = parseManifest(bytes, mediaType);
  return INDEX_MEDIA_TYPES.has(parsed.mediaType) ? parsed.manifests : null;
}
