/**
 * Listings: `tags/list` and `_catalog` are lexically sorted, honour `n` and `last`, and emit a
 * `Link: <…>; rel="next"` that a client can follow until the list is exhausted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { buildImage, expectOciError, RegistryClient, type Response } from './registry-client.js';

let stowage: RunningStowage;
let client: RegistryClient;

// Deliberately pushed out of order, with mixed case, digits and separators.
const TAGS = ['v1.10', 'latest', 'V2', 'v1.2', '1.0', 'a_b', 'a-b', 'a.b', 'Z', 'main', 'v1.9', '0'];
const REPOS = ['cat/zeta', 'cat/alpha', 'cat/alpha/nested', 'cat/beta', 'cat/m-n', 'cat/m.n', 'cat/m_n'];

beforeAll(async () => {
  stowage = await startStowage();
  client = new RegistryClient(stowage.url);
  const image = await client.pushImage('tags/repo', TAGS[0]!, { seed: 'tags' });
  for (const tag of TAGS.slice(1)) {
    const res = await client.putManifest('tags/repo', tag, image.manifest, image.mediaType);
    expect(res.status).toBe(201);
    await res.arrayBuffer();
  }
  for (const repo of REPOS) await client.pushImage(repo, 'v1', { seed: repo });
});
afterAll(async () => {
  await client.close();
  await stowage.close();
});

const sorted = (values: string[]): string[] => [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** The target of `Link: <url>; rel="next"`, or null when there is none. */
function nextLink(res: Response): string | null {
  const link = res.headers.get('link');
  if (link === null) return null;
  const match = /^<([^>]+)>;\s*rel="next"$/.exec(link);
  expect(match, `malformed Link header: ${link}`).not.toBeNull();
  return match![1]!;
}

/** Follows Link headers from `path` until there are none; returns every page's items. */
async function followPages(path: string, key: 'tags' | 'repositories'): Promise<{ pages: string[][]; requests: string[] }> {
  const pages: string[][] = [];
  const requests: string[] = [];
  let next: string | null = path;
  while (next !== null) {
    expect(requests.length).toBeLessThan(50);
    requests.push(next);
    const res = await client.fetch(next);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as Record<string, string[]>;
    pages.push(body[key]!);
    next = nextLink(res);
  }
  return { pages, requests };
}

describe('tags/list', () => {
  it('lists every tag, lexically sorted, with the repository name', async () => {
    const res = await client.fetch('/v2/tags/repo/tags/list');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('link')).toBeNull();
    expect(await res.json()).toEqual({ name: 'tags/repo', tags: sorted(TAGS) });
  });

  it('n limits the page and Link points at the next one, with n and last', async () => {
    const res = await client.fetch('/v2/tags/repo/tags/list?n=5');
    const body = (await res.json()) as { tags: string[] };
    expect(body.tags).toEqual(sorted(TAGS).slice(0, 5));
    const link = nextLink(res)!;
    const url = new URL(link, stowage.url);
    expect(url.pathname).toBe('/v2/tags/repo/tags/list');
    expect(url.searchParams.get('n')).toBe('5');
    expect(url.searchParams.get('last')).toBe(sorted(TAGS)[4]);
  });

  it.each([1, 2, 5, 11, 12, 13, 1000])('following Link with n=%i yields every tag exactly once, in order', async (n) => {
    const { pages } = await followPages(`/v2/tags/repo/tags/list?n=${n}`, 'tags');
    expect(pages.flat()).toEqual(sorted(TAGS));
    for (const page of pages) expect(page.length).toBeLessThanOrEqual(n);
    expect(pages.at(-1)!.length).toBeGreaterThan(0);
  });

  it('last starts after the given tag, whether or not it exists', async () => {
    const all = sorted(TAGS);
    const after = (await (await client.fetch(`/v2/tags/repo/tags/list?last=${all[3]}`)).json()) as { tags: string[] };
    expect(after.tags).toEqual(all.slice(4));
    const between = (await (await client.fetch('/v2/tags/repo/tags/list?last=m')).json()) as { tags: string[] };
    expect(between.tags).toEqual(all.filter((t) => t > 'm'));
    const end = await client.fetch(`/v2/tags/repo/tags/list?last=${all.at(-1)}&n=3`);
    expect(((await end.json()) as { tags: string[] }).tags).toEqual([]);
    expect(end.headers.get('link')).toBeNull();
  });

  it('n=0 returns no tags and no Link', async () => {
    const res = await client.fetch('/v2/tags/repo/tags/list?n=0');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { tags: string[] }).tags).toEqual([]);
    expect(res.headers.get('link')).toBeNull();
  });

  it.each(['-1', 'abc', '1.5'])('n=%s is 400', async (n) => {
    const res = await client.fetch(`/v2/tags/repo/tags/list?n=${n}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: unknown[] }).errors).toHaveLength(1);
  });

  it('a hosted repository that was never pushed to is 404 NAME_UNKNOWN', async () => {
    await expectOciError(await client.fetch('/v2/tags/empty/tags/list'), 404, 'NAME_UNKNOWN');
  });

  it('an invalid repository name is 400 NAME_INVALID', async () => {
    await expectOciError(await client.fetch('/v2/Tags/Repo/tags/list'), 400, 'NAME_INVALID');
  });

  it('a deleted tag disappears from the list', async () => {
    const image = buildImage({ seed: 'tags' });
    expect((await client.putManifest('tags/repo', 'temporary', image.manifest, image.mediaType)).status).toBe(201);
    let tags = ((await (await client.fetch('/v2/tags/repo/tags/list')).json()) as { tags: string[] }).tags;
    expect(tags).toContain('temporary');
    expect((await client.fetch('/v2/tags/repo/manifests/temporary', { method: 'DELETE' })).status).toBe(202);
    tags = ((await (await client.fetch('/v2/tags/repo/tags/list')).json()) as { tags: string[] }).tags;
    expect(tags).toEqual(sorted(TAGS));
  });
});

describe('_catalog', () => {
  const expected = (): string[] => sorted(['tags/repo', ...REPOS]);

  it('lists every repository with a manifest, sorted', async () => {
    const res = await client.fetch('/v2/_catalog');
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(await res.json()).toEqual({ repositories: expected() });
  });

  it('does not list a repository that only holds blobs', async () => {
    await client.pushBlob('cat/blobs-only', Buffer.from('just a blob'));
    const body = (await (await client.fetch('/v2/_catalog')).json()) as { repositories: string[] };
    expect(body.repositories).not.toContain('cat/blobs-only');
  });

  it('drops a repository once its last manifest is deleted', async () => {
    const image = await client.pushImage('cat/gone', 'v1', { seed: 'gone' });
    expect(((await (await client.fetch('/v2/_catalog')).json()) as { repositories: string[] }).repositories).toContain('cat/gone');
    expect((await client.fetch(`/v2/cat/gone/manifests/${image.digest}`, { method: 'DELETE' })).status).toBe(202);
    expect(((await (await client.fetch('/v2/_catalog')).json()) as { repositories: string[] }).repositories).toEqual(expected());
  });

  it.each([1, 3, 8, 9])('following Link with n=%i yields every repository exactly once, in order', async (n) => {
    const { pages, requests } = await followPages(`/v2/_catalog?n=${n}`, 'repositories');
    expect(pages.flat()).toEqual(expected());
    expect(requests.length).toBe(Math.max(1, Math.ceil(expected().length / n)));
    for (const request of requests.slice(1)) expect(request).toMatch(/^\/v2\/_catalog\?/);
  });

  it('n=-1 is 400', async () => {
    expect((await client.fetch('/v2/_catalog?n=-1')).status).toBe(400);
  });
});
