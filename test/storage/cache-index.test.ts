import { describe, expect, it } from 'vitest';
import type { Digest } from '../../src/oci/digest.js';
import { CacheIndex } from '../../src/storage/cache-index.js';

const d = (n: number): Digest => `sha256:${n.toString(16).padStart(64, '0')}` as Digest;

function setup(maxBytes: number, protectMs = 1000) {
  let now = 10_000;
  const removed: Digest[] = [];
  const inUse = new Set<Digest>();
  const sizes: Array<[number, number]> = [];
  const index = new CacheIndex(
    { maxBytes, lowBytes: Math.floor(maxBytes * 0.5), protectMs },
    {
      isInUse: (digest) => inUse.has(digest),
      remove: async (digest) => {
        removed.push(digest);
      },
      evicted: () => {},
      sizeChanged: (bytes, objects) => sizes.push([bytes, objects]),
    },
    () => now,
  );
  return { index, removed, inUse, sizes, advance: (ms: number) => (now += ms), now: () => now };
}

describe('CacheIndex', () => {
  it('evicts least recently used entries down to the low watermark', async () => {
    const { index, removed, advance } = setup(100);
    index.add(d(1), 40, 0);
    index.add(d(2), 40, 1);
    index.add(d(3), 40, 2); // 120 > 100: over budget
    await index.evict();
    expect(removed).toEqual([d(1), d(2)]);
    expect(index.bytes).toBe(40);
    advance(1);
  });

  it('a touched entry moves to the recent end', async () => {
    const { index, removed, advance } = setup(100);
    index.add(d(1), 40, 0);
    index.add(d(2), 40, 1);
    advance(5000);
    index.touch(d(1)); // now recent and protected
    index.add(d(3), 40, 2);
    await index.evict();
    expect(removed).toEqual([d(2), d(3)]);
    expect(index.objects).toBe(1);
  });

  it('never evicts content in use or used within the protection window, even over budget', async () => {
    const { index, removed, inUse, now } = setup(100);
    index.add(d(1), 60, 0);
    inUse.add(d(1));
    index.add(d(2), 60, now()); // just used
    await index.evict();
    expect(removed).toEqual([]);
    expect(index.bytes).toBe(120);
  });

  it('forgotten (hosted) content is never evicted and leaves the total', async () => {
    const { index, removed } = setup(100);
    index.add(d(1), 80, 0);
    index.forget(d(1));
    index.add(d(2), 80, 0);
    await index.evict();
    expect(removed).toEqual([]);
    expect(index.bytes).toBe(80);
  });

  it('reports size changes and does nothing without a budget', async () => {
    const { index, removed, sizes } = setup(0);
    index.add(d(1), 10_000, 0);
    await index.evict();
    expect(removed).toEqual([]);
    expect(sizes.at(-1)).toEqual([10_000, 1]);
  });
});
