import { describe, expect, it } from 'vitest';
import type { Digest } from '../../../src/oci/digest.js';
import type { Tag } from '../../../src/oci/reference.js';
import type { PullStatsStore } from '../../../src/storage/pull-stats.js';
import type { RepositoryKey } from '../../../src/storage/repository-key.js';
import { sha256 } from '../../support/digests.js';

/**
 * The PullStatsStore contract, for every implementation: `pullStatsContract('fs', async () => …)`.
 * `open` returns a store on fresh, empty storage and `reopen` a second store on the same storage
 * (another replica, or the same one after a restart).
 */
export function pullStatsContract(name: string, open: () => Promise<{ store: PullStatsStore; reopen(): Promise<PullStatsStore>; close(): Promise<void> }>): void {
  const app = 'hosted/team/app' as RepositoryKey;
  const alpine = 'proxied/docker.io/library/alpine' as RepositoryKey;
  const d1 = sha256('one') as Digest;
  const d2 = sha256('two') as Digest;
  const tag = (t: string): Tag => t as Tag;

  describe(`PullStatsStore contract: ${name}`, () => {
    it('knows nothing of a repository never pulled', async () => {
      const s = await open();
      try {
        expect(await s.store.repository(app)).toBeNull();
        expect(await s.store.totals()).toEqual(new Map());
      } finally {
        await s.close();
      }
    });

    it('adds batches up per repository, tag and digest; last-pulled times only move forward', async () => {
      const s = await open();
      try {
        await s.store.record([
          { repository: app, digest: d1, tag: tag('1'), pulls: 3, lastPulledAt: 1_000 },
          { repository: app, digest: d1, pulls: 1, lastPulledAt: 1_500 }, // by digest
          { repository: alpine, digest: d2, tag: tag('3.20'), pulls: 2, lastPulledAt: 900 },
        ]);
        // A batch from another replica arriving late: older times do not move anything back.
        await s.store.record([{ repository: app, digest: d2, tag: tag('2'), pulls: 5, lastPulledAt: 500 }]);
        expect(await s.store.repository(app)).toEqual({
          pulls: 9,
          lastPulledAt: 1_500,
          tags: { '1': { pulls: 3, lastPulledAt: 1_000 }, '2': { pulls: 5, lastPulledAt: 500 } },
          digests: { [d1]: { pulls: 4, lastPulledAt: 1_500 }, [d2]: { pulls: 5, lastPulledAt: 500 } },
        });
        expect(await s.store.totals()).toEqual(new Map([
          [app, { pulls: 9, lastPulledAt: 1_500 }],
          [alpine, { pulls: 2, lastPulledAt: 900 }],
        ]));
      } finally {
        await s.close();
      }
    });

    it('loses no count when batches are written concurrently', async () => {
      const s = await open();
      try {
        await Promise.all(Array.from({ length: 20 }, (_, i) => s.store.record([{ repository: app, digest: d1, tag: tag('1'), pulls: 1, lastPulledAt: 1_000 + i }])));
        expect(await s.store.repository(app)).toMatchObject({ pulls: 20, lastPulledAt: 1_019, tags: { '1': { pulls: 20 } } });
      } finally {
        await s.close();
      }
    });

    it('keeps what was recorded for the next store on the same storage', async () => {
      const s = await open();
      try {
        await s.store.record([{ repository: alpine, digest: d2, tag: tag('3.20'), pulls: 7, lastPulledAt: 42 }]);
        const again = await s.reopen();
        expect(await again.repository(alpine)).toMatchObject({ pulls: 7, lastPulledAt: 42, tags: { '3.20': { pulls: 7, lastPulledAt: 42 } } });
        expect((await again.totals()).get(alpine)).toEqual({ pulls: 7, lastPulledAt: 42 });
      } finally {
        await s.close();
      }
    });
  });
}
