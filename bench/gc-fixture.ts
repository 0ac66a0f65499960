/**
 * Figure 12's store: hosted content written straight into each server's storage layout (no server
 * involved, as cache-fixture.ts does for figure 7), so that 100,000 blobs take seconds, not an hour
 * of pushes. `repositories` repositories `team/gc-NNN`, each with image manifests of a config and
 * `layers` layers, every blob distinct (64 random bytes); each repository's first half of manifests
 * is tagged (`t-NNN`), the other half untagged — what a retention rule with `deleteUntagged` and an
 * offline `garbage-collect --delete-untagged` remove.
 *
 * Stowage (src/storage/layout.ts), every file dated two days back (outside GC's grace period):
 *   blobs/sha256/ab/<hex>                                   configs, layers, manifests
 *   repositories/hosted/team/gc-N/_blobs/sha256/<hex>        empty link (config and layers)
 *   repositories/hosted/team/gc-N/_manifests/sha256/<hex>    ManifestRecord
 *   repositories/hosted/team/gc-N/_tags/t-M                  TagRecord
 * Reference registry (distribution's filesystem driver, under <root>/docker/registry/v2):
 *   blobs/sha256/ab/<hex>/data
 *   repositories/team/gc-N/_layers/sha256/<hex>/link
 *   repositories/team/gc-N/_manifests/revisions/sha256/<hex>/link
 *   repositories/team/gc-N/_manifests/tags/t-M/{current/link, index/sha256/<hex>/link}
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const PARALLEL = 64;
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const AGE_MS = 2 * 24 * 3_600_000;

export interface GcImage {
  repository: string;
  hex: string;
  bytes: Buffer;
  tag: string | null;
  blobs: Array<{ hex: string; bytes: Buffer }>;
}

export interface GcFixture {
  images: GcImage[];
  /** Blobs (configs and layers) and manifests in all. */
  blobCount: number;
  manifestCount: number;
}

const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

export function makeGcFixture(options: { repositories: number; manifestsPerRepository: number; layers: number }): GcFixture {
  const images: GcImage[] = [];
  for (let r = 0; r < options.repositories; r++) {
    const repository = `team/gc-${String(r).padStart(3, '0')}`;
    for (let m = 0; m < options.manifestsPerRepository; m++) {
      const blobs = Array.from({ length: options.layers + 1 }, () => randomBytes(64)).map((bytes) => ({ hex: sha(bytes), bytes }));
      const [config, ...layers] = blobs;
      const descriptor = (b: { hex: string; bytes: Buffer }, mediaType: string) => ({ mediaType, digest: `sha256:${b.hex}`, size: b.bytes.length });
      const bytes = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST,
        config: descriptor(config!, 'application/vnd.oci.image.config.v1+json'),
        layers: layers.map((l) => descriptor(l, 'application/vnd.oci.image.layer.v1.tar+gzip')),
      }));
      const tagged = m < options.manifestsPerRepository / 2;
      images.push({ repository, hex: sha(bytes), bytes, tag: tagged ? `t-${String(m).padStart(3, '0')}` : null, blobs });
    }
  }
  return { images, blobCount: images.length * (options.layers + 1), manifestCount: images.length };
}

export async function writeStowageGcStore(dataDir: string, fixture: GcFixture): Promise<void> {
  const old = (Date.now() - AGE_MS) / 1000;
  const blobs = join(dataDir, 'blobs', 'sha256');
  await Promise.all(Array.from({ length: 256 }, (_, i) => mkdir(join(blobs, i.toString(16).padStart(2, '0')), { recursive: true })));
  const repositories = [...new Set(fixture.images.map((i) => i.repository))];
  for (const repository of repositories) {
    const root = join(dataDir, 'repositories', 'hosted', repository);
    await Promise.all(['_blobs/sha256', '_manifests/sha256', '_tags'].map((dir) => mkdir(join(root, dir), { recursive: true })));
  }
  const put = async (path: string, content: Buffer | string): Promise<void> => {
    await writeFile(path, content);
    await utimes(path, old, old);
  };
  await inParallel(fixture.images.length, async (i) => {
    const image = fixture.images[i]!;
    const root = join(dataDir, 'repositories', 'hosted', image.repository);
    for (const blob of image.blobs) {
      await put(join(blobs, blob.hex.slice(0, 2), blob.hex), blob.bytes);
      await put(join(root, '_blobs', 'sha256', blob.hex), '');
    }
    await put(join(blobs, image.hex.slice(0, 2), image.hex), image.bytes);
    const record = { digest: `sha256:${image.hex}`, mediaType: MANIFEST, size: image.bytes.length, storedAt: old * 1000 };
    await put(join(root, '_manifests', 'sha256', image.hex), JSON.stringify(record));
    if (image.tag) await put(join(root, '_tags', image.tag), JSON.stringify({ digest: record.digest, checkedAt: old * 1000, updatedAt: old * 1000 }));
  });
}

export async function writeReferenceGcStore(rootDir: string, fixture: GcFixture): Promise<void> {
  const v2 = join(rootDir, 'docker', 'registry', 'v2');
  const link = async (dir: string, hex: string): Promise<void> => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'link'), `sha256:${hex}`);
  };
  const blob = async (hex: string, bytes: Buffer): Promise<void> => {
    const dir = join(v2, 'blobs', 'sha256', hex.slice(0, 2), hex);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'data'), bytes);
  };
  await inParallel(fixture.images.length, async (i) => {
    const image = fixture.images[i]!;
    const repo = join(v2, 'repositories', image.repository);
    for (const b of image.blobs) {
      await blob(b.hex, b.bytes);
      await link(join(repo, '_layers', 'sha256', b.hex), b.hex);
    }
    await blob(image.hex, image.bytes);
    await link(join(repo, '_manifests', 'revisions', 'sha256', image.hex), image.hex);
    if (image.tag) {
      await link(join(repo, '_manifests', 'tags', image.tag, 'current'), image.hex);
      await link(join(repo, '_manifests', 'tags', image.tag, 'index', 'sha256', image.hex), image.hex);
    }
  });
}

async function inParallel(count: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
}
