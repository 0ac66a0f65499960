import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCEPT_ALL_MANIFESTS } from '../support/digests.js';
import { bytesOf, type PushedImage } from '../http/registry-client.js';
import { expectComplete, makeImage, makeIndex, pushLikeDocker, putManifest, startHostedFixture, type HostedFixture } from './support/hosted-fixture.js';

const DAY = 24 * 3_600_000;

const cosignTag = (image: PushedImage): string => `${image.digest.replace(':', '-')}.sig`;

describe('retention rules, applied by a GC run', () => {
  let f: HostedFixture;
  const images: Record<string, PushedImage> = {};
  let oldIndex: { digest: string };
  let keptIndex: { digest: string };

  const push = async (repo: string, tag: string, name: string, extra: { subject?: PushedImage; artifactType?: string } = {}): Promise<PushedImage> => {
    const image = makeImage(`${repo} ${name}`, [bytesOf(`${repo} ${name} layer`, 1500)], extra);
    expect((await pushLikeDocker(f.client, repo, tag, image)).status).toBe(201);
    images[name] = image;
    return image;
  };
  const tagsOf = async (repo: string): Promise<string[]> => ((await (await f.client.fetch(`/v2/${repo}/tags/list`)).json()) as { tags: string[] }).tags;
  const status = async (repo: string, digest: string): Promise<number> => {
    const res = await f.client.fetch(`/v2/${repo}/manifests/${digest}`, { method: 'HEAD', headers: { Accept: ACCEPT_ALL_MANIFESTS } });
    return res.status;
  };

  beforeAll(async () => {
    f = await startHostedFixture({
      hosted: ['team/**', 'ci/**'],
      retention: [
        { repos: ['team/**'], keepTags: ['v*', 'latest'], keepLast: 2, olderThan: '90d', deleteUntagged: true },
        { repos: ['ci/**'], keepLast: 1 },
      ],
    });
    // Day 0.
    const t1 = await push('team/app', 't1', 't1');
    await push('team/app', 't2', 't2');
    await push('team/app', 'v1.0', 'v1.0');
    const latest = await push('team/app', 'latest', 'latest');
    await push('team/app', cosignTag(t1), 'sig-t1');
    await push('team/app', 'unused', 'untagged-referrer', { subject: latest, artifactType: 'application/vnd.example.sbom' });
    expect((await f.client.fetch(`/v2/team/app/manifests/unused`, { method: 'DELETE' })).status).toBe(202); // a referrer of a kept image, untagged
    const loose = makeImage('team/app loose', [bytesOf('loose layer', 900)]);
    expect((await pushLikeDocker(f.client, 'team/app', loose.digest, loose)).status).toBe(201);
    images.loose = loose;
    const children = [makeImage('old amd64', [bytesOf('old amd64 layer', 800)]), makeImage('old arm64', [bytesOf('old arm64 layer', 800)])];
    for (const [i, child] of children.entries()) {
      expect((await pushLikeDocker(f.client, 'team/app', child.digest, child)).status).toBe(201);
      images[`old-child-${i}`] = child;
    }
    const index = makeIndex(children);
    await putManifest(f.client, 'team/app', 'multi', index.bytes, index.mediaType);
    oldIndex = index;
    const keptChildren = [makeImage('v2 amd64', [bytesOf('v2 amd64 layer', 800)])];
    expect((await pushLikeDocker(f.client, 'team/app', keptChildren[0]!.digest, keptChildren[0]!)).status).toBe(201);
    images['v2-child'] = keptChildren[0]!;
    const v2 = makeIndex(keptChildren);
    await putManifest(f.client, 'team/app', 'v2', v2.bytes, v2.mediaType);
    keptIndex = v2;
    await push('ci/tool', 'a', 'ci-a');
    f.clock.advance(30 * DAY);
    await push('team/app', 't3', 't3');
    await push('ci/tool', 'b', 'ci-b');
    f.clock.advance(30 * DAY);
    await push('team/app', 't4', 't4');
    f.clock.advance(40 * DAY); // day 100
    const t5 = await push('team/app', 't5', 't5');
    await push('team/app', cosignTag(t5), 'sig-t5');
  });
  afterAll(() => f.close());

  const removedTags = (): string[] => ['multi', 't1', 't2', cosignTag(images.t1!), 'a'].sort();

  it('a dry run lists exactly the tags and manifests the rules remove, and removes nothing', async () => {
    const before = await tagsOf('team/app');
    const report = await f.gc({ dryRun: true });
    expect(report.removed.tags.map((t: any) => t.tag).sort()).toEqual(removedTags());
    expect(report.removed.manifests.map((m: any) => m.digest).sort()).toEqual(
      [images.t1, images.t2, images['sig-t1'], images.loose, images['old-child-0'], images['old-child-1'], oldIndex].map((i) => i!.digest).sort(),
    );
    expect(await tagsOf('team/app')).toEqual(before);
    expect(await status('team/app', images.t1!.digest)).toBe(200);
  });

  it('keeps the keepTags, the keepLast most recent, the younger than olderThan, referrers and children of kept manifests', async () => {
    const report = await f.gc();
    expect(report).toMatchObject({ tagsRemoved: 5, manifestsRemoved: 7 });
    expect(await tagsOf('team/app')).toEqual(['latest', cosignTag(images.t5!), 't3', 't4', 't5', 'v1.0', 'v2'].sort());
    // ci/**: keepLast 1 without deleteUntagged untags the older tag but keeps its manifest.
    expect(await tagsOf('ci/tool')).toEqual(['b']);
    await expectComplete(f.client, 'ci/tool', images['ci-a']!.digest, images['ci-a']!);

    for (const name of ['t3', 't4', 't5', 'v1.0', 'latest', 'sig-t5']) await expectComplete(f.client, 'team/app', images[name]!.digest, images[name]!);
    await expectComplete(f.client, 'team/app', images['untagged-referrer']!.digest, images['untagged-referrer']!);
    await expectComplete(f.client, 'team/app', images['v2-child']!.digest, images['v2-child']!);
    expect(await status('team/app', keptIndex.digest)).toBe(200);
    for (const name of ['t1', 't2', 'sig-t1', 'loose', 'old-child-0', 'old-child-1']) expect(await status('team/app', images[name]!.digest), name).toBe(404);
    expect(await status('team/app', oldIndex.digest)).toBe(404);
    const referrers = (await (await f.client.fetch(`/v2/team/app/referrers/${images.latest!.digest}`)).json()) as any;
    expect(referrers.manifests.map((m: any) => m.digest)).toEqual([images['untagged-referrer']!.digest]);
  });
});
