/**
 * The benchmark's images, generated deterministically and pushed into the upstream `docker-registry`
 * with plain distribution-API requests (no client tool needed for seeding):
 *
 *   library/small:latest   OCI image, 3 gzip'd layers of 256 KiB random data
 *   library/big:latest     OCI image, one uncompressed tar layer holding BIG_DATA_BYTES random bytes
 *   library/multi:latest   OCI index over linux/amd64 and linux/arm64 images (2 layers each)
 *
 * The big image is also written as an OCI layout on disk, which is what `skopeo copy` pushes in the
 * push figure. Its layer is a valid tar (so it is a real image), left uncompressed: gzip of 300 MB
 * of random data would cost seconds and change nothing for a registry.
 */
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { digestOf, type Digest } from '../src/oci/digest.js';
import { MediaType } from '../src/oci/media-types.js';
import {
  blobsOf,
  buildImage,
  buildIndex,
  deterministicBytes,
  LINUX_AMD64,
  LINUX_ARM64,
  type BuiltArtifact,
} from '../test/support/oci-layout.js';
import { ustar } from '../test/support/ustar.js';

export const BIG_DATA_BYTES = 300_000_000;

export interface BigImage {
  repository: string;
  tag: string;
  /** The OCI layout directory holding it (tag `latest`). */
  layoutDir: string;
  layerDigest: Digest;
  layerSize: number;
  /** The layer file inside the layout (for the plain file read figure). */
  layerPath: string;
  manifestDigest: Digest;
  configDigest: Digest;
}

export interface SeededImages {
  big: BigImage;
  small: { repository: string; tag: string; manifestDigest: Digest; mediaType: string };
  multi: { repository: string; tag: string; manifestDigest: Digest };
}

/** Generates the images under `workDir` and pushes them to the registry at `registryUrl`. */
export async function seedImages(registryUrl: string, workDir: string): Promise<SeededImages> {
  const small = buildImage({ layers: 3, layerSize: 256 * 1024, seed: 'stowage-bench/small' });
  await pushArtifact(registryUrl, 'library/small', 'latest', small);
  const multi = buildIndex([
    buildImage({ layers: 2, layerSize: 64 * 1024, platform: LINUX_AMD64, seed: 'stowage-bench/multi-amd64' }),
    buildImage({ layers: 2, layerSize: 64 * 1024, platform: LINUX_ARM64, seed: 'stowage-bench/multi-arm64' }),
  ]);
  await pushArtifact(registryUrl, 'library/multi', 'latest', multi);
  const big = await writeBigImage(join(workDir, 'big-oci'));
  await pushBlobFile(registryUrl, big.repository, big.layerDigest, big.layerPath);
  const layoutBlobs = join(big.layoutDir, 'blobs', 'sha256');
  await pushBlobFile(registryUrl, big.repository, big.configDigest, join(layoutBlobs, hex(big.configDigest)));
  await putManifest(registryUrl, big.repository, big.tag, await readFile(join(layoutBlobs, hex(big.manifestDigest))), MediaType.OciManifest);
  return {
    big,
    small: { repository: 'library/small', tag: 'latest', manifestDigest: small.manifestDigest, mediaType: small.mediaType },
    multi: { repository: 'library/multi', tag: 'latest', manifestDigest: multi.manifestDigest },
  };
}

/** Writes the big image as an OCI layout (layer streamed from memory once; ~300 MB on disk). */
async function writeBigImage(dir: string): Promise<BigImage> {
  const blobDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobDir, { recursive: true });
  const layer = ustar([
    { name: 'big/' },
    { name: 'big/data.bin', content: deterministicBytes('stowage-bench/big', BIG_DATA_BYTES) },
  ]);
  const layerDigest = digestOf(layer);
  const layerPath = join(blobDir, hex(layerDigest));
  await writeFile(layerPath, layer);
  const config = Buffer.from(JSON.stringify({
    created: '1970-01-01T00:00:00Z',
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/bin/sh'], Labels: { 'stowage.bench': 'big' } },
    rootfs: { type: 'layers', diff_ids: [layerDigest] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: 'stowage bench: one 300 MB layer' }],
  }));
  const configDigest = digestOf(config);
  await writeFile(join(blobDir, hex(configDigest)), config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
  }));
  const manifestDigest = digestOf(manifest);
  await writeFile(join(blobDir, hex(manifestDigest)), manifest);
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{
      mediaType: MediaType.OciManifest,
      digest: manifestDigest,
      size: manifest.length,
      annotations: { 'org.opencontainers.image.ref.name': 'latest' },
    }],
  }));
  return { repository: 'library/big', tag: 'latest', layoutDir: dir, layerDigest, layerSize: layer.length, layerPath, manifestDigest, configDigest };
}

/** Pushes every object of an in-memory image or index: blobs, then child manifests, then the tag. */
async function pushArtifact(registryUrl: string, repository: string, tag: string, root: BuiltArtifact): Promise<void> {
  const objects = blobsOf(root);
  const manifestTypes = new Set<string>([MediaType.OciManifest, MediaType.OciIndex, MediaType.DockerManifest, MediaType.DockerManifestList]);
  for (const object of objects.filter((o) => !manifestTypes.has(o.mediaType))) {
    await pushBlob(registryUrl, repository, object.digest, object.bytes.length, () => [object.bytes]);
  }
  for (const object of objects.slice(1).filter((o) => manifestTypes.has(o.mediaType))) {
    await putManifest(registryUrl, repository, object.digest, object.bytes, object.mediaType);
  }
  await putManifest(registryUrl, repository, tag, root.manifestBytes, root.mediaType);
}

async function pushBlobFile(registryUrl: string, repository: string, digest: Digest, path: string): Promise<void> {
  const { size } = await stat(path);
  await pushBlob(registryUrl, repository, digest, size, () => createReadStream(path, { highWaterMark: 1024 * 1024 }));
}

/** Monolithic upload: POST a session, PUT the whole body with `?digest=`. */
async function pushBlob(
  registryUrl: string,
  repository: string,
  digest: Digest,
  size: number,
  body: () => Iterable<Buffer> | AsyncIterable<Buffer> | NodeJS.ReadableStream,
): Promise<void> {
  const start = await send(registryUrl, 'POST', `/v2/${repository}/blobs/uploads/`, { 'content-length': '0' });
  if (start.status !== 202 || !start.location) throw new Error(`seed: POST upload for ${repository} answered ${start.status}`);
  const location = new URL(start.location, registryUrl);
  location.searchParams.set('digest', digest);
  const done = await send(registryUrl, 'PUT', location.pathname + location.search, {
    'content-type': 'application/octet-stream',
    'content-length': String(size),
  }, body());
  if (done.status !== 201) throw new Error(`seed: PUT blob ${digest} answered ${done.status}: ${done.text}`);
}

async function putManifest(registryUrl: string, repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<void> {
  const done = await send(registryUrl, 'PUT', `/v2/${repository}/manifests/${reference}`, {
    'content-type': mediaType,
    'content-length': String(bytes.length),
  }, [bytes]);
  if (done.status !== 201) throw new Error(`seed: PUT manifest ${repository}:${reference} answered ${done.status}: ${done.text}`);
}

async function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Iterable<Buffer> | AsyncIterable<Buffer> | NodeJS.ReadableStream,
): Promise<{ status: number; location: string | undefined; text: string }> {
  const request = http.request(new URL(path, base), { method, headers });
  const answered = once(request, 'response') as Promise<[http.IncomingMessage]>;
  if (body) await pipeline(body as AsyncIterable<Buffer>, request);
  else request.end();
  const [response] = await answered;
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  const location = response.headers.location;
  return { status: response.statusCode ?? 0, location, text: Buffer.concat(chunks).toString('utf8').slice(0, 500) };
}

const hex = (digest: Digest): string => digest.slice(digest.indexOf(':') + 1);
