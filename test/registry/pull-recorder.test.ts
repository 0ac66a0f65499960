import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Digest } from '../../src/oci/digest.js';
import type { Tag } from '../../src/oci/reference.js';
import { PullRecorder } from '../../src/registry/pull-recorder.js';
import type { PullBatchEntry, PullStatsStore } from '../../src/storage/pull-stats.js';
import type { RepositoryKey } from '../../src/storage/repository-key.js';
import { sha256 } from '../support/digests.js';

/** A store that keeps batches in memory and can be told to fail. */
class CountingStore implements PullStatsStore {
  batches: PullBatchEntry[][] = [];
  failNext = false;
  async record(batch: readonly PullBatchEntry[]): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('disk full');
    }
    this.batches.push([...batch]);
  }
  async totals() {
    const totals = new Map<RepositoryKey, { pulls: number; lastPulledAt: number }>();
    for (const e of this.batches.flat()) {
      const t = totals.get(e.repository);
      totals.set(e.repository, { pulls: (t?.pulls ?? 0) + e.pulls, lastPulledAt: Math.max(t?.lastPulledAt ?? 0, e.lastPulledAt) });
    }
    return totals;
  }
  async repository() {
    return null;
  }
}

describe('PullRecorder', () => {
  const key = 'hosted/team/app' as RepositoryKey;
  const digest = sha256('m') as Digest;

  it('sums pulls in memory and writes one batch entry per (repository, digest, tag) on flush', async () => {
    const store = new CountingStore();
    let now = 1_000;
    const recorder = new PullRecorder(store, pino({ level: 'silent' }), () => now);
    recorder.pulled(key, digest, '1' as Tag);
    now = 2_000;
    recorder.pulled(key, digest, '1' as Tag);
    recorder.pulled(key, digest);
    expect(store.batches).toEqual([]);
    expect((await recorder.totals()).get(key)).toEqual({ pulls: 3, lastPulledAt: 2_000 }); // visible before the flush
    await recorder.flush();
    expect(store.batches).toEqual([[
      { repository: key, digest, tag: '1', pulls: 2, lastPulledAt: 2_000 },
      { repository: key, digest, pulls: 1, lastPulledAt: 2_000 },
    ]]);
    await recorder.flush();
    expect(store.batches).toHaveLength(1); // nothing new, nothing written
  });

  it('keeps the pulls of a failed flush for the next one', async () => {
    const store = new CountingStore();
    const recorder = new PullRecorder(store, pino({ level: 'silent' }), () => 5);
    recorder.pulled(key, digest);
    store.failNext = true;
    await recorder.flush();
    recorder.pulled(key, digest);
    expect((await recorder.totals()).get(key)).toEqual({ pulls: 2, lastPulledAt: 5 });
    await recorder.flush();
    expect(store.batches).toEqual([[{ repository: key, digest, pulls: 2, lastPulledAt: 5 }]]);
  });
});
