/**
 * A large cache on disk for the startup figure, written straight into each server's storage layout
 * (no server involved): `count` small blobs, each linked from one of 100 proxied repositories.
 *
 * Stowage (src/storage/layout.ts):
 *   blobs/sha256/ab/<hex>                                       content
 *   repositories/proxied/docker.io/library/cache-N/_blobs/sha256/<hex>   empty link
 * Reference registry (distribution's filesystem driver, under <root>/docker/registry/v2):
 *   blobs/sha256/ab/<hex>/data                                  content
 *   repositories/library/cache-N/_layers/sha256/<hex>/link      "sha256:<hex>"
 *
 * Content is 64 random bytes per blob, named by its real sha256. Sizes do not matter to startup
 * (only names and metadata are read); the file count does.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const REPOSITORIES = 100;
const PARALLEL = 64;

export interface CacheFixture {
  hexes: string[];
  contents: Buffer[];
}

export function makeFixture(count: number): CacheFixture {
  const contents = Array.from({ length: count }, () => randomBytes(64));
  return { contents, hexes: contents.map((c) => createHash('sha256').update(c).digest('hex')) };
}

export async function writeStowageCache(dataDir: string, fixture: CacheFixture): Promise<void> {
  const blobs = join(dataDir, 'blobs', 'sha256');
  await Promise.all(Array.from({ length: 256 }, (_, i) => mkdir(join(blobs, i.toString(16).padStart(2, '0')), { recursive: true })));
  const links = (n: number): string => join(dataDir, 'repositories', 'proxied', 'docker.io', 'library', `cache-${n}`, '_blobs', 'sha256');
  await Promise.all(Array.from({ length: REPOSITORIES }, (_, n) => mkdir(links(n), { recursive: true })));
  await inParallel(fixture.hexes.length, async (i) => {
    const hex = fixture.hexes[i]!;
    await writeFile(join(blobs, hex.slice(0, 2), hex), fixture.contents[i]!);
    await writeFile(join(links(i % REPOSITORIES), hex), '');
  });
}

export async function writeReferenceCache(rootDir: string, fixture: CacheFixture): Promise<void> {
  const v2 = join(rootDir, 'docker', 'registry', 'v2');
  await inParallel(fixture.hexes.length, async (i) => {
    const hex = fixture.hexes[i]!;
    const blobDir = join(v2, 'blobs', 'sha256', hex.slice(0, 2), hex);
    await mkdir(blobDir, { recursive: true });
    await writeFile(join(blobDir, 'data'), fixture.contents[i]!);
    const linkDir = join(v2, 'repositories', 'library', `cache-${i % REPOSITORIES}`, '_layers', 'sha256', hex);
    await mkdir(linkDir, { recursive: true });
    await writeFile(join(linkDir, 'link'), `sha256:${hex}`);
  });
}

async function inParallel(count: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
}
