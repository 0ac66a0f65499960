/**
 * What every MetadataStore must do (src/storage/metadata-store.ts). A driver runs it with one line:
 *   metadataStoreContract('fs', async (now) => ({ metadata, reopen, cleanup }));
 * `now` is the clock the store must use for the times it records itself (blob links).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Digest } from '../../../src/oci/digest.js';
import type { Descriptor } from '../../../src/oci/manifest.js';
import type { Tag } from '../../../src/oci/reference.js';
import type { ManifestRecord, MetadataStore } from '../../../src/storage/metadata-store.js';
import type { RepositoryKey } from '../../../src/storage/repository-key.js';
import { content, ManualClock } from './support.js';

export interface MetadataStoreSubject {
  metadata: MetadataStore;
  /** A second instance on the same backing (a restart, or another replica). */
  reopen(): Promise<MetadataStore>;
  cleanup(): Promise<void>;
}

const HOSTED = 'hosted/team/app' as RepositoryKey;
const NESTED = 'hosted/team/app/sub' as RepositoryKey;
const PROXIED = 'proxied/docker.io/library/alpine' as RepositoryKey;
const tag = (name: string): Tag => name as Tag;
const digest = (): Digest => content(16).digest;
const MINUTE = 60_000;

function manifest(storedAt: number, extra: Partial<ManifestRecord> = {}): ManifestRecord {
  return { digest: digest(), mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 123, storedAt, ...extra };
}

export function metadataStoreContract(driver: string, open: (now: () => number) => Promise<MetadataStoreSubject>): void {
  describe(`MetadataStore contract: ${driver}`, () => {
    let subject: MetadataStoreSubject;
    let metadata: MetadataStore;
    let clock: ManualClock;
    beforeEach(async () => {
      clock = new ManualClock();
      subject = await open(clock.now);
      metadata = subject.metadata;
    });
    afterEach(() => subject.cleanup());

    it('blob links: link, has, list with last use, unlink; repositories do not share links', async () => {
      const [a, b] = [digest(), digest()];
      expect(await metadata.hasBlob(HOSTED, a)).toBe(false);
      await metadata.linkBlob(HOSTED, a);
      clock.advance(5 * MINUTE);
      await metadata.linkBlob(HOSTED, b);
      expect(await metadata.hasBlob(HOSTED, a)).toBe(true);
      expect(await metadata.hasBlob(PROXIED, a)).toBe(false);
      const links = (await metadata.listBlobLinks(HOSTED)).sort((x, y) => x.lastUsed - y.lastUsed);
      expect(links.map((l) => l.digest)).toEqual([a, b]);
      expect(links[1]!.lastUsed - links[0]!.lastUsed).toBeCloseTo(5 * MINUTE, -3);
      expect(await metadata.unlinkBlob(HOSTED, a)).toBe(true);
      expect(await metadata.unlinkBlob(HOSTED, a)).toBe(false);
      expect((await metadata.listBlobLinks(HOSTED)).map((l) => l.digest)).toEqual([b]);
      expect(await (await subject.reopen()).hasBlob(HOSTED, b)).toBe(true);
    });

    it("a blob served through a repository refreshes its link's last use, at most once a minute, and links nothing new", async () => {
      const a = digest();
      await metadata.linkBlob(HOSTED, a);
      const linkedAt = (await metadata.listBlobLinks(HOSTED))[0]!.lastUsed;
      clock.advance(30_000);
      await metadata.touchBlobLink(HOSTED, a);
      expect((await metadata.listBlobLinks(HOSTED))[0]!.lastUsed).toBeCloseTo(linkedAt, -3);
      clock.advance(60 * MINUTE);
      await metadata.touchBlobLink(HOSTED, a);
      expect((await metadata.listBlobLinks(HOSTED))[0]!.lastUsed).toBeCloseTo(linkedAt + 60.5 * MINUTE, -3);
      await metadata.touchBlobLink(HOSTED, digest());
      expect(await metadata.listBlobLinks(HOSTED)).toHaveLength(1);
    });

    it('manifests: put, get, list with storedAt, delete (with the tags and referrer entry that went with them)', async () => {
      const image = manifest(clock.now());
      const signature = manifest(clock.now() + 1, { subject: image.digest, artifactType: 'application/vnd.dev.cosign' });
      await metadata.putManifest(HOSTED, image);
      await metadata.putManifest(HOSTED, signature);
      expect(await metadata.getManifest(HOSTED, image.digest)).toEqual(image);
      expect(await metadata.getManifest(PROXIED, image.digest)).toBeNull();
      expect((await metadata.listManifests(HOSTED)).sort((a, b) => a.storedAt - b.storedAt)).toEqual([image, signature]);
      const descriptor: Descriptor = { mediaType: signature.mediaType, digest: signature.digest, size: signature.size, artifactType: 'application/vnd.dev.cosign' };
      await metadata.addReferrer(HOSTED, image.digest, descriptor);
      expect(await metadata.listReferrers(HOSTED, image.digest)).toEqual([descriptor]);
      await metadata.setTag(HOSTED, tag('v1'), { digest: image.digest, checkedAt: 1, updatedAt: 1 });
      await metadata.setTag(HOSTED, tag('v2'), { digest: signature.digest, checkedAt: 1, updatedAt: 1 });

      expect(await metadata.deleteManifest(HOSTED, signature.digest)).toBe(true);
      expect(await metadata.deleteManifest(HOSTED, signature.digest)).toBe(false);
      expect(await metadata.getManifest(HOSTED, signature.digest)).toBeNull();
      expect(await metadata.listTags(HOSTED)).toEqual(['v1']);
      expect(await metadata.listReferrers(HOSTED, image.digest)).toEqual([]);
      expect(await metadata.listManifests(HOSTED)).toEqual([image]);
      expect(await (await subject.reopen()).listManifests(HOSTED)).toEqual([image]);
    });

    it('tags: updatedAt stays while the tag points at the same digest and moves with it; checkedAt always moves', async () => {
      const [a, b] = [digest(), digest()];
      await metadata.setTag(HOSTED, tag('latest'), { digest: a, checkedAt: 1000, updatedAt: 1000 });
      await metadata.setTag(HOSTED, tag('latest'), { digest: a, checkedAt: 2000, updatedAt: 2000 });
      expect(await metadata.getTag(HOSTED, tag('latest'))).toEqual({ digest: a, checkedAt: 2000, updatedAt: 1000 });
      await metadata.setTag(HOSTED, tag('latest'), { digest: b, checkedAt: 3000, updatedAt: 3000 });
      expect(await metadata.getTag(HOSTED, tag('latest'))).toEqual({ digest: b, checkedAt: 3000, updatedAt: 3000 });
      expect(await (await subject.reopen()).getTag(HOSTED, tag('latest'))).toEqual({ digest: b, checkedAt: 3000, updatedAt: 3000 });
      expect(await metadata.deleteTag(HOSTED, tag('latest'))).toBe(true);
      expect(await metadata.deleteTag(HOSTED, tag('latest'))).toBe(false);
      expect(await metadata.getTag(HOSTED, tag('latest'))).toBeNull();
    });

    it('listTagRecords gives every tag with its record, sorted, in one call', async () => {
      const digests = Array.from({ length: 300 }, () => digest());
      const names = digests.map((_, i) => `v${i}`);
      await Promise.all(names.map((name, i) => metadata.setTag(PROXIED, tag(name), { digest: digests[i]!, checkedAt: i, updatedAt: i })));
      const listed = await metadata.listTagRecords(PROXIED);
      expect(listed.map((t) => t.tag)).toEqual([...names].sort());
      for (const { tag: name, record } of listed) {
        const i = Number(name.slice(1));
        expect(record).toEqual({ digest: digests[i], checkedAt: i, updatedAt: i });
      }
      expect(await metadata.listTags(PROXIED)).toEqual([...names].sort());
      expect(await metadata.listTagRecords(HOSTED)).toEqual([]);

      // Listed again after writes: every change shows.
      const moved = digest();
      await metadata.setTag(PROXIED, tag('v1'), { digest: moved, checkedAt: 7, updatedAt: 7 });
      await metadata.deleteTag(PROXIED, tag('v2'));
      await metadata.setTag(PROXIED, tag('new'), { digest: moved, checkedAt: 8, updatedAt: 8 });
      const again = new Map((await metadata.listTagRecords(PROXIED)).map(({ tag: name, record }) => [name, record]));
      expect(again.size).toBe(300);
      expect(again.get(tag('v1'))).toEqual({ digest: moved, checkedAt: 7, updatedAt: 7 });
      expect(again.has(tag('v2'))).toBe(false);
      expect(again.get(tag('new'))).toEqual({ digest: moved, checkedAt: 8, updatedAt: 8 });
    });

    it('concurrent writes of one tag: the last write wins, and every instance agrees on it', async () => {
      const digests = Array.from({ length: 20 }, () => digest());
      await Promise.all(digests.map((d, i) => metadata.setTag(HOSTED, tag('race'), { digest: d, checkedAt: i, updatedAt: i })));
      const seen = await metadata.getTag(HOSTED, tag('race'));
      expect(digests).toContain(seen!.digest);
      expect(await (await subject.reopen()).getTag(HOSTED, tag('race'))).toEqual(seen);
      expect(await metadata.listTags(HOSTED)).toEqual(['race']);
    });

    it('repositories: existence, the catalog, and every key with any metadata by prefix', async () => {
      expect(await metadata.repositoryExists(HOSTED)).toBe(false);
      await metadata.putManifest(HOSTED, manifest(1));
      await metadata.linkBlob(NESTED, digest()); // only a blob so far: a push in progress
      await metadata.setTag(PROXIED, tag('3'), { digest: digest(), checkedAt: 1, updatedAt: 1 });
      await metadata.putManifest(PROXIED, manifest(1));
      expect(await metadata.repositoryExists(HOSTED)).toBe(true);
      expect(await metadata.repositoryExists(NESTED)).toBe(false);
      expect(await metadata.listRepositories()).toEqual([HOSTED, PROXIED]);
      expect(await metadata.listRepositoryKeys()).toEqual([HOSTED, NESTED, PROXIED]);
      expect(await metadata.listRepositoryKeys('hosted/')).toEqual([HOSTED, NESTED]);
      expect(await metadata.listRepositoryKeys('proxied/docker.io/')).toEqual([PROXIED]);
      expect(await metadata.listRepositoryKeys('proxied/ghcr.io/')).toEqual([]);
      await expect(metadata.listRepositoryKeys('../')).rejects.toThrow();
    });
  });
}
