/**
 * What every EvictionIndex must do (src/storage/eviction-index.ts). A driver runs it with one line:
 *   evictionIndexContract('local', async ({ policy, isInUse, remove, now }) => ({ index, cleanup }));
 * The suite decides what is in use and records what the index removes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Digest } from '../../../src/oci/digest.js';
import type { EvictionIndex, EvictionPolicy } from '../../../src/storage/eviction-index.js';
import { ManualClock } from './support.js';

export interface EvictionIndexSetup {
  policy: EvictionPolicy;
  isInUse(digest: Digest): boolean;
  remove(digest: Digest): Promise<void>;
  now: () => number;
}

export interface EvictionIndexSubject {
  index: EvictionIndex;
  cleanup(): Promise<void>;
}

const d = (n: number): Digest => `sha256:${n.toString(16).padStart(64, '0')}` as Digest;
const MINUTE = 60_000;

export function evictionIndexContract(driver: string, open: (setup: EvictionIndexSetup) => Promise<EvictionIndexSubject>): void {
  describe(`EvictionIndex contract: ${driver}`, () => {
    let subject: EvictionIndexSubject | null = null;
    afterEach(async () => {
      await subject?.cleanup();
      subject = null;
    });

    /** Budget `maxBytes`, evicting down to half of it, protecting the last 10 minutes. */
    async function setup(maxBytes: number) {
      const clock = new ManualClock();
      const removed: Digest[] = [];
      const inUse = new Set<Digest>();
      subject = await open({
        policy: { maxBytes, lowBytes: Math.floor(maxBytes / 2), protectMs: 10 * MINUTE },
        isInUse: (digest) => inUse.has(digest),
        remove: async (digest) => {
          removed.push(digest);
        },
        now: clock.now,
      });
      const long = clock.now() - 60 * MINUTE; // used long ago: outside the protection window
      return { index: subject.index, clock, removed, inUse, long };
    }

    it('evicts least recently used content down to the low watermark, and the totals follow', async () => {
      const { index, removed, long } = await setup(100);
      await index.add(d(1), 40, long);
      await index.add(d(2), 40, long + 1);
      expect(await index.totals()).toEqual({ bytes: 80, objects: 2, pinnedBytes: 0 });
      await index.add(d(3), 40, long + 2); // 120 > 100
      await index.evict();
      expect(removed).toEqual([d(1), d(2)]);
      expect(await index.totals()).toEqual({ bytes: 40, objects: 1, pinnedBytes: 0 });
    });

    it('a touched entry is the most recently used, and protected for the window', async () => {
      const { index, removed, long } = await setup(100);
      await index.add(d(1), 40, long);
      await index.add(d(2), 40, long + 1);
      index.touch(d(1));
      await index.add(d(3), 40, long + 2);
      await index.evict();
      expect(removed).toEqual([d(2), d(3)]);
      expect((await index.totals()).objects).toBe(1);
    });

    it('never evicts what is being read or was used within the protection window, even over budget', async () => {
      const { index, removed, inUse, clock, long } = await setup(100);
      await index.add(d(1), 60, long);
      inUse.add(d(1));
      await index.add(d(2), 60, clock.now());
      await index.evict();
      expect(removed).toEqual([]);
      expect((await index.totals()).bytes).toBe(120);
      // Once the reader is gone, the old one goes.
      inUse.delete(d(1));
      await index.evict();
      expect(removed).toEqual([d(1)]);
    });

    it('pinned content is never evicted and is reported; unpinned, it is evictable again', async () => {
      const { index, removed, clock, long } = await setup(100);
      await index.pin(d(1)); // pinned before it is even cached
      await index.add(d(1), 70, long);
      await index.add(d(2), 20, long + 1);
      await index.add(d(3), 20, clock.now()); // protected: just used
      await index.evict();
      expect(removed).toEqual([d(2)]);
      expect(await index.totals()).toEqual({ bytes: 90, objects: 2, pinnedBytes: 70 });
      await index.unpin(d(1));
      await index.add(d(4), 20, clock.now());
      await index.evict();
      expect(removed).toEqual([d(2), d(1)]);
      expect((await index.totals()).pinnedBytes).toBe(0);
    });

    it('forgotten (now hosted) content leaves the totals and is never evicted', async () => {
      const { index, removed, long } = await setup(100);
      await index.add(d(1), 80, long);
      await index.forget(d(1));
      await index.forget(d(9)); // never indexed: harmless
      await index.add(d(2), 80, long);
      await index.evict();
      expect(removed).toEqual([]);
      expect(await index.totals()).toEqual({ bytes: 80, objects: 1, pinnedBytes: 0 });
    });

    it('evictNow deletes one cached blob on request, unless it is hosted, unknown, being read or pinned', async () => {
      const { index, removed, inUse, clock } = await setup(1000);
      for (const n of [1, 2, 3]) await index.add(d(n), 100, clock.now()); // just used: a request still evicts it
      await index.pin(d(2));
      inUse.add(d(3));
      expect(await index.evictNow(d(1))).toBe(100);
      expect(await index.evictNow(d(1))).toBe(0);
      expect(await index.evictNow(d(2))).toBe(0);
      expect(await index.evictNow(d(3))).toBe(0);
      expect(await index.evictNow(d(9))).toBe(0);
      expect(removed).toEqual([d(1)]);
      expect(await index.totals()).toEqual({ bytes: 200, objects: 2, pinnedBytes: 100 });
    });

    it('adding the same digest again counts it once', async () => {
      const { index, long } = await setup(1000);
      await index.add(d(1), 10, long);
      await index.add(d(1), 10);
      expect(await index.totals()).toEqual({ bytes: 10, objects: 1, pinnedBytes: 0 });
    });

    it('shrink evicts at least the bytes asked for, least recently used first, whatever the budget, with the same protections', async () => {
      const { index, removed, inUse, clock, long } = await setup(0); // no budget: only shrink evicts
      for (const n of [1, 2, 3, 4]) await index.add(d(n), 30, long + n);
      await index.add(d(5), 30, clock.now()); // protected: just used
      await index.pin(d(2));
      inUse.add(d(3));
      expect(await index.shrink(40)).toBe(60); // d1, then d4 (d2 pinned, d3 being read)
      expect(removed).toEqual([d(1), d(4)]);
      expect(await index.shrink(1_000)).toBe(0); // nothing evictable is left
      expect(await index.totals()).toEqual({ bytes: 90, objects: 3, pinnedBytes: 30 });
    });

    it('without a budget nothing is evicted', async () => {
      const { index, removed, long } = await setup(0);
      await index.add(d(1), 10_000, long);
      await index.evict();
      expect(removed).toEqual([]);
      expect((await index.totals()).bytes).toBe(10_000);
    });
  });
}
