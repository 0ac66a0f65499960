import { randomBytes } from 'node:crypto';
import { digestOf, type Digest } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/media-types.js';

/**
 * Builders for small, valid images: a config blob, N layers of random bytes, and a manifest
 * (OCI or Docker v2 media types), plus multi-platform indexes. Pure: nothing is stored here.
 * Layers are random bytes labelled as gzip tar: fine for registries, not for clients that unpack.
 */
export interface FakeBlob {
  digest: Digest;
  bytes: Buffer;
  mediaType: string;
}

export interface FakeImage {
  digest: Digest;
  bytes: Buffer;
  mediaType: string;
  config: FakeBlob;
  layers: FakeBlob[];
}

export interface FakeIndex {
  digest: Digest;
  bytes: Buffer;
  mediaType: string;
  images: FakeImage[];
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ImageOptions {
  /** Number of random layers (default 2). Ignored when `layers` is given. */
  layerCount?: number;
  /** Bytes per random layer (default 1024). */
  layerSize?: number;
  /** Exact layer contents instead of random ones. */
  layers?: Buffer[];
  /** 'oci' (default) or 'docker' media types. */
  format?: 'oci' | 'docker';
  platform?: Platform;
}

export function buildImage(options: ImageOptions = {}): FakeImage {
  const docker = options.format === 'docker';
  const platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
  const layerBytes = options.layers ?? Array.from({ length: options.layerCount ?? 2 }, () => randomBytes(options.layerSize ?? 1024));
  const layerType = docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip';
  const layers = layerBytes.map((bytes) => blob(bytes, layerType));

  const configJson = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    // Unique per image, so two images built alike never share a config digest.
    created: new Date().toISOString(),
    comment: randomBytes(8).toString('hex'),
  };
  const config = blob(Buffer.from(JSON.stringify(configJson)), docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json');
  const mediaType = docker ? MediaType.DockerManifest : MediaType.OciManifest;
  const manifest = {
    schemaVersion: 2,
    mediaType,
    config: descriptor(config),
    layers: layers.map(descriptor),
  };
  const bytes = Buffer.from(JSON.stringify(manifest, null, 2));
  return { digest: digestOf(bytes), bytes, mediaType, config, layers };
}

export function buildIndex(platforms: Platform[], options: Omit<ImageOptions, 'platform'> = {}): FakeIndex {
  const docker = options.format === 'docker';
  const images = platforms.map((platform) => buildImage({ ...options, platform }));
  const mediaType = docker ? MediaType.DockerManifestList : MediaType.OciIndex;
  const index = {
    schemaVersion: 2,
    mediaType,
    manifests: images.map((image, i) => ({
      mediaType: image.mediaType,
      digest: image.digest,
      size: image.bytes.length,
      platform: platforms[i],
    })),
  };
  const bytes = Buffer.from(JSON.stringify(index, null, 2));
  return { digest: digestOf(bytes), bytes, mediaType, images };
}

const blob = (bytes: Buffer, mediaType: string): FakeBlob => ({ digest: digestOf(bytes), bytes, mediaType });

const descriptor = (b: FakeBlob): { mediaType: string; digest: Digest; size: number } => ({
  mediaType: b.mediaType,
  digest: b.digest,
  size: b.bytes.length,
});
