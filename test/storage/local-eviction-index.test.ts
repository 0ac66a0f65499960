/**
 * What only the in-memory index does (the rest is the EvictionIndex contract, fs-contracts.test.ts):
 * it persists uses through `recordUse` — the fs driver's mtime bump, which orders the index rebuilt
 * after a restart — at most once a minute per blob, also for blobs it has not indexed (yet).
 */
import { describe, expect, it } from 'vitest';
import type { Digest } from '../../src/oci/digest.js';
import { LocalEvictionIndex } from '../../src/storage/local-eviction-index.js';

const d = (n: number): Digest => `sha256:${n.toString(16).padStart(64, '0')}` as Digest;

describe('LocalEvictionIndex', () => {
  it('records a use at most once a minute per blob, indexed or not', async () => {
    let now = 1_000_000;
    const recorded: Array<[Digest, number]> = [];
    const index = new LocalEvictionIndex(
      { maxBytes: 0, lowBytes: 0, protectMs: 0 },
      { isInUse: () => false, remove: async () => {}, evicted: () => {}, sizeChanged: () => {}, recordUse: (digest, at) => recorded.push([digest, at]) },
      () => now,
    );
    await index.add(d(1), 10);
    index.touch(d(1)); // just added: its last use is already "now"
    now += 30_000;
    index.touch(d(1));
    expect(recorded).toEqual([]);
    now += 31_000;
    index.touch(d(1));
    index.touch(d(1));
    expect(recorded).toEqual([[d(1), 1_061_000]]);

    index.touch(d(2)); // not indexed: still recorded, for the rebuild to find
    now += 1_000;
    index.touch(d(2));
    expect(recorded).toEqual([[d(1), 1_061_000], [d(2), 1_061_000]]);
  });
});
