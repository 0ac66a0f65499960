/**
 * Builds real, deterministic container images in memory and writes/reads them as OCI image layouts
 * on disk (what `skopeo copy oci:DIR:TAG docker://…` consumes and produces).
 *
 * Every layer is a gzip'd ustar archive with a small directory, a data file of seeded
 * pseudo-random bytes and a README; the config's `rootfs.diff_ids` are the sha256 of the
 * *uncompressed* tars, so images are valid for any client that unpacks them. The same options
 * always yield the same bytes and digests (within one Node/zlib build). All bytes are serialised
 * once here and never re-serialised, so digests can be compared byte for byte after a round trip.
 *
 *   DIR/
 *   ├── oci-layout              {"imageLayoutVersion":"1.0.0"}
 *   ├── index.json              one descriptor per tag (annotation org.opencontainers.image.ref.name)
 *   └── blobs/sha256/<hex>      manifests, configs and layers
 */
import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { digestOf, type Digest } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/media-types.js';
import { ustar } from './ustar.js';

export type ImageFormat = 'oci' | 'docker';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export const LINUX_AMD64: Platform = { os: 'linux', architecture: 'amd64' };
export const LINUX_ARM64: Platform = { os: 'linux', architecture: 'arm64', variant: 'v8' };

export const LayerMediaType = {
  oci: 'application/vnd.oci.image.layer.v1.tar+gzip',
  docker: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;
export const ConfigMediaType = {
  oci: 'application/vnd.oci.image.config.v1+json',
  docker: 'application/vnd.docker.container.image.v1+json',
} as const;

export interface BlobDescriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** A content-addressed object with its bytes: a manifest, an index, a config or a layer. */
export interface Blob extends BlobDescriptor {
  bytes: Buffer;
}

export interface Layer extends Blob {
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids entry). */
  diffId: Digest;
}

export interface BuiltImage {
  kind: 'image';
  format: ImageFormat;
  /** The manifest's media type. */
  mediaType: string;
  platform: Platform;
  manifestBytes: Buffer;
  manifestDigest: Digest;
  config: Blob;
  configBytes: Buffer;
  configDigest: Digest;
  layers: Layer[];
}

export interface BuiltIndex {
  kind: 'index';
  format: ImageFormat;
  /** OCI image index or Docker manifest list. */
  mediaType: string;
  manifestBytes: Buffer;
  manifestDigest: Digest;
  images: BuiltImage[];
}

export type BuiltArtifact = BuiltImage | BuiltIndex;

export interface ImageOptions {
  /** A layer count (seeded random content), or one data-file content per layer. */
  layers: number | Buffer[];
  /** Size of each generated data file before compression (random bytes barely compress). Default 4 KiB. */
  layerSize?: number;
  platform?: Platform;
  /** Distinguishes otherwise identical images. Default: derived from the platform. */
  seed?: string;
  /** 'oci' (default) or 'docker' (schema2 with rootfs.diff.tar.gzip layers, as `docker push` sends). */
  format?: ImageFormat;
}

/** `size` deterministic pseudo-random bytes for `seed` (AES-256-CTR keystream; fast for large sizes). */
export function deterministicBytes(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

function blob(mediaType: string, bytes: Buffer): Blob {
  return { mediaType, digest: digestOf(bytes), size: bytes.length, bytes };
}

function buildLayer(format: ImageFormat, index: number, data: Buffer, seed: string): Layer {
  const dir = `layer-${index}/`;
  const tar = ustar([
    { name: dir },
    { name: `${dir}data.bin`, content: data },
    { name: `${dir}README.txt`, content: Buffer.from(`layer ${index} of ${seed}\n`) },
  ]);
  return { ...blob(LayerMediaType[format], gzipSync(tar)), diffId: digestOf(tar) };
}

/** A single-platform image: layers, config (with diff_ids and platform) and image manifest. */
export function buildImage(options: ImageOptions): BuiltImage {
  const format = options.format ?? 'oci';
  const platform = options.platform ?? LINUX_AMD64;
  const seed = options.seed ?? `stowage/${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ''}`;
  const layerSize = options.layerSize ?? 4096;
  const data = typeof options.layers === 'number'
    ? Array.from({ length: options.layers }, (_, i) => deterministicBytes(`${seed}/layer-${i}`, layerSize))
    : options.layers;
  const layers = data.map((bytes, i) => buildLayer(format, i, bytes, seed));

  const configJson = {
    created: '1970-01-01T00:00:00Z',
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Cmd: ['/bin/sh'], Labels: { 'stowage.test.seed': seed } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: '1970-01-01T00:00:00Z', created_by: `stowage test layer ${i}` })),
  };
  const config = blob(ConfigMediaType[format], Buffer.from(JSON.stringify(configJson)));
  const mediaType = format === 'oci' ? MediaType.OciManifest : MediaType.DockerManifest;
  const descriptor = ({ mediaType: m, digest, size }: Blob) => ({ mediaType: m, digest, size });
  const manifestBytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType,
    config: descriptor(config),
    layers: layers.map(descriptor),
  }));
  return {
    kind: 'image', format, mediaType, platform, manifestBytes, manifestDigest: digestOf(manifestBytes),
    config, configBytes: config.bytes, configDigest: config.digest, layers,
  };
}

/** `buildImage` in Docker schema2 flavour (what `docker push` sends). */
export function buildDockerImage(options: Omit<ImageOptions, 'format'>): BuiltImage {
  return buildImage({ ...options, format: 'docker' });
}

/** An OCI image index (or a Docker manifest list, when the images are Docker schema2) over `images`. */
export function buildIndex(images: readonly BuiltImage[]): BuiltIndex {
  const format = images[0]?.format ?? 'oci';
  if (images.some((i) => i.format !== format)) throw new Error('buildIndex: images must share one format');
  const mediaType = format === 'oci' ? MediaType.OciIndex : MediaType.DockerManifestList;
  const manifestBytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType,
    manifests: images.map((i) => ({ mediaType: i.mediaType, digest: i.manifestDigest, size: i.manifestBytes.length, platform: i.platform })),
  }));
  return { kind: 'index', format, mediaType, manifestBytes, manifestDigest: digestOf(manifestBytes), images: [...images] };
}

/** The descriptor that points at an image or index (with the platform, for images). */
export function descriptorOf(root: BuiltArtifact): BlobDescriptor {
  return {
    mediaType: root.mediaType,
    digest: root.manifestDigest,
    size: root.manifestBytes.length,
    ...(root.kind === 'image' ? { platform: root.platform } : {}),
  };
}

/** Every object of an image or index, the root manifest first, each digest once. */
export function blobsOf(root: BuiltArtifact): Blob[] {
  const all: Blob[] = [{ ...descriptorOf(root), bytes: root.manifestBytes }];
  if (root.kind === 'index') all.push(...root.images.flatMap(blobsOf));
  else all.push(root.config, ...root.layers);
  const seen = new Set<string>();
  return all.filter((b) => !seen.has(b.digest) && seen.add(b.digest));
}

/** Decompresses a layer and returns the uncompressed tar (e.g. to check a diff_id). */
export function layerTar(layer: Blob): Buffer {
  return gunzipSync(layer.bytes);
}

const REF_NAME = 'org.opencontainers.image.ref.name';

interface LayoutIndex {
  schemaVersion: 2;
  manifests: BlobDescriptor[];
}

async function readLayoutIndex(dir: string): Promise<LayoutIndex> {
  try {
    return JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as LayoutIndex;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { schemaVersion: 2, manifests: [] };
    throw error;
  }
}

/**
 * Writes `root` and everything it references into the OCI layout at `dir` under `tag`. An existing
 * layout is extended: other tags are kept, the same tag is replaced.
 */
export async function writeOciLayout(dir: string, options: { tag: string; root: BuiltArtifact }): Promise<void> {
  const blobDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobDir, { recursive: true });
  for (const b of blobsOf(options.root)) {
    await writeFile(join(blobDir, b.digest.slice('sha256:'.length)), b.bytes);
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const index = await readLayoutIndex(dir);
  index.manifests = index.manifests.filter((d) => d.annotations?.[REF_NAME] !== options.tag);
  index.manifests.push({ ...descriptorOf(options.root), annotations: { [REF_NAME]: options.tag } });
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: index.manifests }));
}

/**
 * Writes `root` in containers/image's `dir:` transport format (`manifest.json`, `version`, blobs
 * named by hex digest, child manifests as `<hex>.manifest.json`). skopeo 1.9's `oci:` source only
 * finds OCI media types in index.json, so Docker schema2 images are pushed from a `dir:` instead.
 */
export async function writeDirTransport(dir: string, root: BuiltArtifact): Promise<void> {
  await mkdir(dir, { recursive: true });
  const hex = (d: Digest): string => d.slice('sha256:'.length);
  await writeFile(join(dir, 'version'), 'Directory Transport Version: 1.1\n');
  await writeFile(join(dir, 'manifest.json'), root.manifestBytes);
  const images = root.kind === 'index' ? root.images : [root];
  for (const image of images) {
    if (root.kind === 'index') await writeFile(join(dir, `${hex(image.manifestDigest)}.manifest.json`), image.manifestBytes);
    for (const b of [image.config, ...image.layers]) await writeFile(join(dir, hex(b.digest)), b.bytes);
  }
}

/**
 * Reads what skopeo wrote with `copy … dir:DIR` (with `--all` for a list): every reachable
 * object, by the digest it is named under. Bytes are not verified; callers compare them.
 */
export async function readDirTransport(dir: string): Promise<Map<Digest, Buffer>> {
  const blobs = new Map<Digest, Buffer>();
  const hex = (d: Digest): string => d.slice('sha256:'.length);
  const visitImage = async (manifest: Buffer): Promise<void> => {
    const m = JSON.parse(manifest.toString('utf8')) as { config: BlobDescriptor; layers: BlobDescriptor[] };
    for (const b of [m.config, ...m.layers]) blobs.set(b.digest, await readFile(join(dir, hex(b.digest))));
  };
  const root = await readFile(join(dir, 'manifest.json'));
  blobs.set(digestOf(root), root);
  const children = (JSON.parse(root.toString('utf8')) as { manifests?: BlobDescriptor[] }).manifests;
  if (!children) await visitImage(root);
  for (const child of children ?? []) {
    const bytes = await readFile(join(dir, `${hex(child.digest)}.manifest.json`));
    blobs.set(child.digest, bytes);
    await visitImage(bytes);
  }
  return blobs;
}

export interface LayoutContent {
  /** The index.json descriptor for the tag. */
  descriptor: BlobDescriptor;
  manifestBytes: Buffer;
  /** Every blob reachable from the tag (manifests, configs, layers), as stored on disk, by digest. */
  blobs: Map<Digest, Buffer>;
}

/**
 * Reads what a tag references in an OCI layout (e.g. one written by `skopeo copy … oci:DIR:TAG`).
 * Does not verify digests: callers compare the bytes themselves, which is the point of the tests.
 */
export async function readOciLayout(dir: string, tag: string): Promise<LayoutContent> {
  const index = await readLayoutIndex(dir);
  const descriptor = index.manifests.find((d) => d.annotations?.[REF_NAME] === tag);
  if (!descriptor) throw new Error(`OCI layout ${dir} has no tag ${tag}`);
  const blobs = new Map<Digest, Buffer>();
  const load = async (digest: Digest): Promise<Buffer> => {
    const [algorithm, hex] = digest.split(':') as [string, string];
    const bytes = await readFile(join(dir, 'blobs', algorithm, hex));
    blobs.set(digest, bytes);
    return bytes;
  };
  const visit = async (d: BlobDescriptor): Promise<Buffer> => {
    const bytes = await load(d.digest);
    const m = JSON.parse(bytes.toString('utf8')) as { manifests?: BlobDescriptor[]; config?: BlobDescriptor; layers?: BlobDescriptor[] };
    for (const child of m.manifests ?? []) await visit(child);
    for (const b of [...(m.config ? [m.config] : []), ...(m.layers ?? [])]) await load(b.digest);
    return bytes;
  };
  const manifestBytes = await visit(descriptor);
  return { descriptor, manifestBytes, blobs };
}
