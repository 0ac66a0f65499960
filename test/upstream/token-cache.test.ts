import { describe, expect, it } from 'vitest';
import { TokenCache, type TokenGrant } from '../../src/upstream/token-cache.js';

function counter(expiresInSeconds: number | null) {
  let calls = 0;
  const fetch = async (): Promise<TokenGrant> => {
    const n = ++calls;
    await new Promise((resolve) => setTimeout(resolve, 5));
    return { token: `t${n}`, expiresInSeconds };
  };
  return { fetch, calls: () => calls };
}

describe('TokenCache', () => {
  it('coalesces concurrent fetches of one key; other keys fetch separately', async () => {
    const cache = new TokenCache(() => 0);
    const source = counter(300);
    const results = await Promise.all([cache.obtain('a', source.fetch), cache.obtain('a', source.fetch), cache.obtain('b', source.fetch)]);
    expect(source.calls()).toBe(2);
    expect(results[0]).toEqual({ token: 't1', fresh: true });
    expect(results[1]).toEqual({ token: 't1', fresh: true });
    expect(await cache.obtain('a', source.fetch)).toEqual({ token: 't1', fresh: false });
  });

  it('refreshes a quarter of the lifetime (at most 30 s) before expiry; 60 s when unspecified', async () => {
    let now = 0;
    const cache = new TokenCache(() => now);
    const long = counter(300);
    await cache.obtain('long', long.fetch);
    now = 269_999;
    await cache.obtain('long', long.fetch);
    expect(long.calls()).toBe(1);
    now = 270_000;
    await cache.obtain('long', long.fetch);
    expect(long.calls()).toBe(2);

    now = 0;
    const unspecified = counter(null);
    await cache.obtain('short', unspecified.fetch);
    now = 44_999;
    await cache.obtain('short', unspecified.fetch);
    expect(unspecified.calls()).toBe(1);
    now = 45_000;
    await cache.obtain('short', unspecified.fetch);
    expect(unspecified.calls()).toBe(2);
  });

  it('does not cache failures and invalidates only the token it was given', async () => {
    const cache = new TokenCache(() => 0);
    await expect(cache.obtain('k', async () => Promise.reject(new Error('realm down')))).rejects.toThrow('realm down');
    const source = counter(300);
    await cache.obtain('k', source.fetch);
    cache.invalidate('k', 'not-the-cached-token');
    expect(await cache.obtain('k', source.fetch)).toEqual({ token: 't1', fresh: false });
    cache.invalidate('k', 't1');
    expect(await cache.obtain('k', source.fetch)).toEqual({ token: 't2', fresh: true });
  });

  it("one waiter's abort does not fail the shared fetch for the others", async () => {
    const cache = new TokenCache(() => 0);
    const source = counter(300);
    const controller = new AbortController();
    const aborted = cache.obtain('k', source.fetch, controller.signal);
    const other = cache.obtain('k', source.fetch);
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    expect(await other).toEqual({ token: 't1', fresh: true });
    expect(source.calls()).toBe(1);
  });
});
