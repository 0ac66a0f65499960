import { describe, expect, it } from 'vitest';
import type { PinStore } from '../../../src/storage/pin-store.js';
import type { RepositoryKey } from '../../../src/storage/repository-key.js';

/**
 * The PinStore contract, for every implementation: `pinStoreContract('fs', async () => …)`. `open`
 * returns a store on fresh, empty storage and `reopen` a second store on the same storage (another
 * replica, or the same one after a restart).
 */
export function pinStoreContract(name: string, open: () => Promise<{ store: PinStore; reopen(): Promise<PinStore>; close(): Promise<void> }>): void {
  const alpine = 'proxied/docker.io/library/alpine' as RepositoryKey;
  const app = 'proxied/ghcr.io/org/app' as RepositoryKey;
  const digest = `sha256:${'ab'.repeat(32)}`;

  describe(`PinStore contract: ${name}`, () => {
    it('lists what was pinned, oldest first, after a restart too; pinning twice keeps the first record', async () => {
      const s = await open();
      try {
        expect(await s.store.list()).toEqual([]);
        await s.store.add({ repository: alpine, reference: '3.20', pinnedAt: 1_000 });
        await s.store.add({ repository: app, reference: digest, pinnedAt: 2_000 });
        await s.store.add({ repository: alpine, reference: '3.20', pinnedAt: 3_000 });
        const expected = [
          { repository: alpine, reference: '3.20', pinnedAt: 1_000 },
          { repository: app, reference: digest, pinnedAt: 2_000 },
        ];
        expect(await s.store.list()).toEqual(expected);
        expect(await (await s.reopen()).list()).toEqual(expected);
      } finally {
        await s.close();
      }
    });

    it('removes a pin by repository and reference, and says whether there was one', async () => {
      const s = await open();
      try {
        await s.store.add({ repository: alpine, reference: '3.20', pinnedAt: 1 });
        await s.store.add({ repository: alpine, reference: '3.21', pinnedAt: 2 });
        expect(await s.store.remove(alpine, '3.20')).toBe(true);
        expect(await s.store.remove(alpine, '3.20')).toBe(false);
        expect(await s.store.remove(app, '3.21')).toBe(false);
        expect((await (await s.reopen()).list()).map((p) => p.reference)).toEqual(['3.21']);
      } finally {
        await s.close();
      }
    });

    it('loses no pin when several are made at once', async () => {
      const s = await open();
      try {
        await Promise.all(Array.from({ length: 20 }, (_, i) => s.store.add({ repository: alpine, reference: `t${i}`, pinnedAt: i })));
        expect((await (await s.reopen()).list()).length).toBe(20);
      } finally {
        await s.close();
      }
    });
  });
}
