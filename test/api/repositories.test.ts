import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOciError } from '../http/registry-client.js';
import { pushHosted, startApiFixture, type ApiFixture } from './support/api-fixture.js';

describe('GET /api/v1/repositories', () => {
  let f: ApiFixture;
  let hubRequestsAfterPulls = 0;

  beforeAll(async () => {
    f = await startApiFixture();
    await pushHosted(f.registry, 'team/app', '1.0', { layerCount: 1, layerSize: 1000 });
    await pushHosted(f.registry, 'team/app', '1.1', { layerCount: 2, layerSize: 1000 });
    await pushHosted(f.registry, 'team/tools/lint', 'latest', { layerCount: 1, layerSize: 3000 });
    await pushHosted(f.registry, 'ci/runner', 'v1', { layerCount: 1, layerSize: 10 });
    f.hub.addImage('library/alpine', '3.20', { layerCount: 2, layerSize: 2000 });
    f.hub.addImage('library/alpine', '3.21', { layerCount: 2, layerSize: 2000 });
    f.hub.addImage('library/nginx', 'latest', { layerCount: 1, layerSize: 5000 });
    f.hub.addImage('library/redis', 'never-pulled');
    await f.pull('library/alpine', '3.20');
    await f.pull('library/nginx', 'latest', { skipBlobs: true });
    await f.pull('library/nginx', 'latest', { skipBlobs: true });
    hubRequestsAfterPulls = f.hub.count();
  });
  afterAll(() => f.close());

  it('lists hosted and cached repositories with kind, upstream, tags, size and pulls, asking no upstream', async () => {
    const body = await f.json('repositories');
    expect(body.repositories.map((r: any) => r.name)).toEqual(['ci/runner', 'docker.io/library/alpine', 'docker.io/library/nginx', 'team/app', 'team/tools/lint']);
    expect(body.total).toBe(5);
    expect(body.nextCursor).toBeNull();
    const byName = Object.fromEntries(body.repositories.map((r: any) => [r.name, r]));
    expect(byName['team/app']).toMatchObject({ kind: 'hosted', upstream: null, tagCount: 2, pulls: 0, lastPulledAt: null });
    expect(byName['docker.io/library/alpine']).toMatchObject({ kind: 'cached', upstream: 'docker.io', remoteName: 'library/alpine', tagCount: 1, pulls: 1 });
    // nginx: two manifest GETs, no blob fetched: size is what a client downloads, stored bytes only what is here.
    expect(byName['docker.io/library/nginx']).toMatchObject({ tagCount: 1, pulls: 2 });
    expect(byName['docker.io/library/nginx'].size).toBeGreaterThan(5000);
    expect(byName['docker.io/library/nginx'].storedBytes).toBe(0);
    expect(byName['docker.io/library/alpine'].storedBytes).toBe(byName['docker.io/library/alpine'].size);
    // Sizes are deduplicated sums of config + layers: 1.1 shares nothing with 1.0 here.
    expect(byName['team/app'].size).toBeGreaterThan(3000);
    expect(Date.parse(byName['team/app'].updatedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(Date.parse(byName['docker.io/library/nginx'].lastPulledAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(f.hub.count()).toBe(hubRequestsAfterPulls);
  });

  it('searches by substring and by glob, case-insensitively', async () => {
    const names = async (q: string): Promise<string[]> => (await f.json(`repositories?q=${encodeURIComponent(q)}`)).repositories.map((r: any) => r.name);
    expect(await names('app')).toEqual(['team/app']);
    expect(await names('LIBRARY')).toEqual(['docker.io/library/alpine', 'docker.io/library/nginx']);
    expect(await names('team/*')).toEqual(['team/app', 'team/tools/lint']);
    expect(await names('*/n?inx')).toEqual(['docker.io/library/nginx']);
    expect(await names('nothing-like-this')).toEqual([]);
  });

  it('filters by kind and upstream', async () => {
    const names = async (q: string): Promise<string[]> => (await f.json(`repositories?${q}`)).repositories.map((r: any) => r.name);
    expect(await names('kind=hosted')).toEqual(['ci/runner', 'team/app', 'team/tools/lint']);
    expect(await names('kind=cached')).toEqual(['docker.io/library/alpine', 'docker.io/library/nginx']);
    expect(await names('upstream=docker.io')).toEqual(['docker.io/library/alpine', 'docker.io/library/nginx']);
    expect(await names('upstream=ghcr.io')).toEqual([]);
    await expectOciError(await f.call('repositories?kind=mirror'), 400, 'UNSUPPORTED');
  });

  it('sorts by name, size, pulls, last pulled and last pushed, both ways', async () => {
    const names = async (q: string): Promise<string[]> => (await f.json(`repositories?${q}`)).repositories.map((r: any) => r.name);
    expect(await names('sort=name&order=desc')).toEqual(['team/tools/lint', 'team/app', 'docker.io/library/nginx', 'docker.io/library/alpine', 'ci/runner']);
    const bySize = (await f.json('repositories?sort=size')).repositories.map((r: any) => r.size);
    expect(bySize).toEqual([...bySize].sort((a: number, b: number) => b - a));
    expect((await names('sort=size&order=asc'))[0]).toBe('ci/runner');
    expect((await names('sort=pulls')).slice(0, 2)).toEqual(['docker.io/library/nginx', 'docker.io/library/alpine']);
    // Last pulled, newest first; never-pulled repositories last.
    expect((await names('sort=pulled')).slice(0, 2)).toEqual(['docker.io/library/nginx', 'docker.io/library/alpine']);
    expect((await names('sort=pulled&order=asc')).slice(-2)).toEqual(['docker.io/library/alpine', 'docker.io/library/nginx']);
    const pushed = (await f.json('repositories?sort=pushed')).repositories.map((r: any) => Date.parse(r.updatedAt));
    expect(pushed).toEqual([...pushed].sort((a: number, b: number) => b - a));
    await expectOciError(await f.call('repositories?sort=colour'), 400, 'UNSUPPORTED');
    await expectOciError(await f.call('repositories?order=up'), 400, 'UNSUPPORTED');
  });

  it('pages with keyset cursors that stay stable while repositories are added and removed', async () => {
    const first = await f.json('repositories?limit=2');
    expect(first.repositories.map((r: any) => r.name)).toEqual(['ci/runner', 'docker.io/library/alpine']);
    expect(first.total).toBe(5);
    // Meanwhile a repository appears before the cursor and one after it: the next page neither
    // repeats nor skips a row (an offset would have shown docker.io/library/alpine twice).
    await pushHosted(f.registry, 'ci/aaa', 'x');
    await pushHosted(f.registry, 'team/zzz', 'x');
    const second = await f.json(`repositories?limit=2&cursor=${first.nextCursor}`);
    expect(second.repositories.map((r: any) => r.name)).toEqual(['docker.io/library/nginx', 'team/app']);
    const third = await f.json(`repositories?limit=2&cursor=${second.nextCursor}`);
    expect(third.repositories.map((r: any) => r.name)).toEqual(['team/tools/lint', 'team/zzz']);
    expect(third.nextCursor).toBeNull();
    // A cursor continues only the listing it came from.
    await expectOciError(await f.call(`repositories?limit=2&sort=size&cursor=${first.nextCursor}`), 400, 'UNSUPPORTED');
    await expectOciError(await f.call('repositories?cursor=not-a-cursor'), 400, 'UNSUPPORTED');
    await expectOciError(await f.call('repositories?limit=0'), 400, 'UNSUPPORTED');
    await expectOciError(await f.call('repositories?limit=ten'), 400, 'UNSUPPORTED');
    for (const name of ['ci/aaa', 'team/zzz']) {
      const res = await f.call(`repositories/${name}/tags/x`, { method: 'DELETE' });
      expect(res.status).toBe(204);
    }
  });

  it('pages sorted by a value with ties in (value, name) order', async () => {
    const all = (await f.json('repositories?sort=pulls&order=desc')).repositories.map((r: any) => r.name);
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await f.json(`repositories?sort=pulls&order=desc&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      paged.push(...page.repositories.map((r: any) => r.name));
      cursor = page.nextCursor;
    } while (cursor);
    expect(paged).toEqual(all);
  });

  it('shows one repository by its canonical name, slashes raw, and nothing for other spellings', async () => {
    const repo = await f.json('repositories/docker.io/library/alpine');
    expect(repo).toMatchObject({ name: 'docker.io/library/alpine', kind: 'cached', permissions: { delete: false, refresh: true } });
    expect(await f.json('repositories/team/tools/lint')).toMatchObject({ name: 'team/tools/lint', kind: 'hosted', permissions: { delete: true, refresh: false } });
    await expectOciError(await f.call('repositories/library/alpine'), 404, 'NAME_UNKNOWN');
    await expectOciError(await f.call('repositories/team%2Fapp'), 400, 'NAME_INVALID');
    await expectOciError(await f.call('repositories/team%252Fapp'), 400, 'NAME_INVALID');
    await expectOciError(await f.call('repositories/team/none'), 404, 'NAME_UNKNOWN');
    // Not cached: unknown here, and browsing does not ask Docker Hub.
    await expectOciError(await f.call('repositories/docker.io/library/redis'), 404, 'NAME_UNKNOWN');
    await expectOciError(await f.call('repositories/ghcr.io/owner/app'), 404, 'NAME_UNKNOWN');
    expect(f.hub.count()).toBe(hubRequestsAfterPulls);
  });
});
