import { checkDescriptorFields, checkManifestFields, manifestInvalid as invalid } from './descriptor-fields.js';
import type { Digest } from './digest.js';
import { isDigest } from './digest.js';
import { jsonNestsDeeperThan } from './json-depth.js';
import { FOREIGN_LAYER_MEDIA_TYPES, INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, SCHEMA1_MEDIA_TYPES } from './media-types.js';

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
  urls?: string[];
}

/** What the registry needs to know about a manifest: its type, what it references, what it is about. */
export interface ParsedManifest {
  mediaType: string;
  /**
   * Config and layers (image manifests), all of which must exist. Non-distributable layers that
   * name their `urls` are left out: clients fetch those elsewhere, and `docker push` never uploads
   * them (distribution accepts such manifests the same way).
   */
  blobs: Descriptor[];
  /** Child manifests (indexes), all of which must exist. */
  manifests: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/**
 * How deep a pushed manifest may nest. Real ones reach 5 (index → manifests → descriptor → platform
 * → os.features); unknown fields may add some. Anything deeper is refused before it is parsed.
 */
export const MAX_MANIFEST_DEPTH = 64;

function descriptor(value: unknown, where: string, strict: boolean): Descriptor {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${where}: descriptor must be an object`);
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw invalid(`${where}.mediaType must be a non-empty string`);
  if (typeof d.digest !== 'string' || !isDigest(d.digest)) throw invalid(`${where}.digest is not a valid digest`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw invalid(`${where}.size must be a non-negative integer`);
  if (strict) checkDescriptorFields(d, where);
  return d as unknown as Descriptor;
}

function descriptors(value: unknown, where: string, strict: boolean): Descriptor[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(`${where} must be an array`);
  return value.map((v, i) => descriptor(v, `${where}[${i}]`, strict));
}

/**
 * Parses and validates manifest bytes. `contentType` is the media type the client declared (PUT
 * Content-Type, or the upstream response); the payload's own `mediaType`, when present, must agree.
 * Schema1 is refused: current Docker and containerd cannot pull it, and it cannot be verified.
 * `strict` (pushes) also checks the depth and every typed field of the image spec
 * (descriptor-fields.ts); upstream manifests are parsed only for what the cache needs, so a
 * registry's quirks never stop a pull.
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined, options: { strict?: boolean } = {}): ParsedManifest {
  const strict = options.strict ?? false;
  if (strict && jsonNestsDeeperThan(bytes, MAX_MANIFEST_DEPTH)) throw invalid(`nested deeper than ${MAX_MANIFEST_DEPTH} levels`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid('manifest must be a JSON object');
  const m = json as Record<string, unknown>;
  const declared = contentType?.split(';')[0]?.trim().toLowerCase();
  const embedded = typeof m.mediaType === 'string' ? m.mediaType : undefined;
  if (strict) {
    if (m.mediaType !== undefined && embedded === undefined) throw invalid('mediaType must be a string');
    checkManifestFields(m);
  }

  if ((declared && SCHEMA1_MEDIA_TYPES.has(declared)) || m.schemaVersion === 1) {
    throw invalid('Docker schema1 manifests are not supported; re-push the image with a current client');
  }
  if (m.schemaVersion !== 2) throw invalid('schemaVersion must be 2');

  // Infer the type when neither side states it (OCI allows omitting mediaType).
  const inferred = Array.isArray(m.manifests) ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.oci.image.manifest.v1+json';
  const mediaType = embedded ?? (declared && MANIFEST_MEDIA_TYPES.has(declared) ? declared : inferred);
  if (embedded && declared && declared !== embedded && declared !== 'application/json') {
    throw invalid(`Content-Type ${declared} does not match the manifest's mediaType ${embedded}`);
  }
  if (!MANIFEST_MEDIA_TYPES.has(mediaType)) throw invalid(`unsupported manifest media type ${mediaType}`);

  const subject = m.subject === undefined ? undefined : descriptor(m.subject, 'subject', strict);
  const base = {
    mediaType,
    ...(subject ? { subject } : {}),
    ...(typeof m.artifactType === 'string' ? { artifactType: m.artifactType } : {}),
    ...(m.annotations && typeof m.annotations === 'object' ? { annotations: m.annotations as Record<string, string> } : {}),
  };
  if (INDEX_MEDIA_TYPES.has(mediaType)) {
    if (!Array.isArray(m.manifests)) throw invalid('an index must have a manifests array');
    return { ...base, blobs: [], manifests: descriptors(m.manifests, 'manifests', strict) };
  }
  const config = descriptor(m.config, 'config', strict);
  const layers = descriptors(m.layers, 'layers', strict);
  return { ...base, blobs: [config, ...layers.filter((layer) => !isForeignLayer(layer))], manifests: [] };
}

/** A non-distributable layer that says where to fetch it: a registry need not hold its bytes. */
export function isForeignLayer(layer: Descriptor): boolean {
  return (
    FOREIGN_LAYER_MEDIA_TYPES.has(layer.mediaType) &&
    Array.isArray(layer.urls) &&
    layer.urls.length > 0 &&
    layer.urls.every((url) => typeof url === 'string' && url !== '')
  );
}
