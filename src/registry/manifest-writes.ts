import type { Digest } from '../oci/digest.js';
import { digestOf } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import { parseManifest, type Descriptor, type ParsedManifest } from '../oci/manifest.js';
import type { Reference } from '../oci/reference.js';
import { INDEX_MEDIA_TYPES } from '../oci/media-types.js';

/** Checks a pushed manifest's size, syntax and digest; returns the digest it will be stored under. */
export function checkPushedManifest(
  reference: Reference,
  bytes: Buffer,
  contentType: string | undefined,
  maxBytes: number,
): { digest: Digest; manifest: ParsedManifest } {
  if (bytes.length > maxBytes) {
    throw new RegistryError('MANIFEST_TOO_LARGE', { size: bytes.length, limit: maxBytes }, { message: `manifest exceeds ${maxBytes} bytes` });
  }
  const manifest = parseManifest(bytes, contentType, { strict: true });
  const algorithm = reference.kind === 'digest' ? (reference.digest.startsWith('sha512:') ? 'sha512' : 'sha256') : 'sha256';
  const digest = digestOf(bytes, algorithm);
  if (reference.kind === 'digest' && reference.digest !== digest) {
    throw new RegistryError('DIGEST_INVALID', { expected: reference.digest, actual: digest }, { message: 'manifest does not match the digest in the URL' });
  }
  return { digest, manifest };
}

/**
 * The descriptor a referrers index lists for this manifest. The spec: its own `artifactType`; for an
 * image manifest whose `artifactType` is missing *or empty*, the config's media type; for such an
 * index, none.
 */
export function referrerDescriptor(digest: Digest, size: number, manifest: ParsedManifest): Descriptor {
  const config = INDEX_MEDIA_TYPES.has(manifest.mediaType) ? undefined : manifest.blobs[0];
  const artifactType = manifest.artifactType || config?.mediaType;
  return {
    mediaType: manifest.mediaType,
    digest,
    size,
    ...(artifactType ? { artifactType } : {}),
    ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
  };
}
