/**
 * The "alpine" that real-client tests pull through Stowage: a generated, deterministic Docker
 * schema2 image (what `docker pull` asks for first) with two real gzip'd tar layers, pushed
 * byte-for-byte with skopeo into a reference registry as `library/alpine:latest`.
 *
 * Docker Hub is never involved: the digests here are the only ones a pull can end with, so a test
 * that compares the pulled digest with `image.manifestDigest` proves where the bytes came from.
 */
import { join } from 'node:path';
import { buildDockerImage, deterministicBytes, writeDirTransport, type BuiltImage } from './oci-layout.js';
import type { Skopeo } from './skopeo.js';

export const ALPINE_REPOSITORY = 'library/alpine';
export const ALPINE_TAG = 'latest';

/** A tiny rootfs: a small layer (an os-release-like text file) and a 256 KiB one (random bytes). */
export function buildAlpineImage(): BuiltImage {
  return buildDockerImage({
    seed: 'stowage/alpine',
    layers: [
      Buffer.from('NAME="Alpine Linux (Stowage test image)"\nID=alpine\nVERSION_ID=3.99.0\n'),
      // Random bytes do not compress: the layer is big enough to be streamed in many chunks.
      deterministicBytes('stowage/alpine/payload', 256 * 1024),
    ],
  });
}

/**
 * Pushes `image` to `registryHost` (plain HTTP) as `library/alpine:latest` without changing a
 * digest (`--preserve-digests`: skopeo fails rather than convert). `workDir` receives a `dir:` copy.
 */
export async function seedAlpine(skopeo: Skopeo, registryHost: string, workDir: string, image: BuiltImage = buildAlpineImage()): Promise<BuiltImage> {
  const source = join(workDir, 'alpine-dir');
  await writeDirTransport(source, image);
  await skopeo.copy(`dir:${source}`, `docker://${registryHost}/${ALPINE_REPOSITORY}:${ALPINE_TAG}`, ['--preserve-digests']);
  return image;
}
