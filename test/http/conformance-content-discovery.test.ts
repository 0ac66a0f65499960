/**
 * OCI distribution-spec v1.1 conformance, Content Discovery workflow: the checks of the suite's
 * `03_discovery_test.go` (tag listing with `n`/`last`, the referrers API with its five referrers of
 * one subject, `artifactType` filtering, a referrer pushed before its subject and one whose subject
 * never comes) and of the newer runner's tag-list and referrers tests, over real HTTP against a
 * hosted Stowage. Test names start with the check id used in docs/conformance.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { bytesOf, expectOciError, MT, RegistryClient, sha256, type Descriptor, type Response } from './registry-client.js';

let stowage: RunningStowage;
let client: RegistryClient;

const REPO = 'conformance/discovery';
const DUMMY_DIGEST = sha256('hello world');
const ANNOTATION = 'org.opencontainers.conformance.test';
const TYPE_A = 'application/vnd.nhl.peanut.butter.bagel';
const TYPE_B = 'application/vnd.nba.strawberry.jam.croissant';
const TYPE_INDEX = 'application/vnd.food.stand';

const pretty = (value: unknown): Buffer => Buffer.from(JSON.stringify(value, null, '\t'));
const configOf = (author: string): Buffer => pretty({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, author });
const layer = bytesOf('conformance/discovery/layer', 2048);
const manifestOf = (config: Buffer): Buffer =>
  pretty({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: sha256(config), size: config.length }, layers: [{ mediaType: MT.ociLayer, digest: sha256(layer), size: layer.length }] });
// manifests[2] carries the tags; manifests[4] is the subject; manifests[3] is a subject never pushed.
const configs = [2, 3, 4].map((i) => configOf(`discovery-author-${i}`));
const [tagged, neverPushed, subjectManifest] = configs.map(manifestOf) as [Buffer, Buffer, Buffer];
const descriptorOf = (mediaType: string, bytes: Buffer): Descriptor => ({ mediaType, digest: sha256(bytes), size: bytes.length });

// The suite's referrers of manifests[4], and one of manifests[3].
const emptyJSON = Buffer.from('{}');
const refBlobA = Buffer.from('NHL Peanut Butter on my NHL bagel');
const refBlobB = Buffer.from('NBA Strawberry Jam on my NBA croissant');
const subject = descriptorOf(MT.ociManifest, subjectManifest);
/** artifactType given by the config media type. */
const configArtifact = (blob: Buffer, type: string, note: string): Buffer =>
  pretty({ schemaVersion: 2, mediaType: MT.ociManifest, config: descriptorOf(type, blob), subject, layers: [descriptorOf(MT.ociEmpty, emptyJSON)], annotations: { [ANNOTATION]: note } });
/** artifactType given by the field, empty config. */
const layerArtifact = (blob: Buffer, type: string, note: string | null, subjectDescriptor = subject): Buffer =>
  pretty({
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    artifactType: type,
    config: descriptorOf(MT.ociEmpty, emptyJSON),
    subject: subjectDescriptor,
    layers: [descriptorOf(type, blob)],
    ...(note === null ? {} : { annotations: { [ANNOTATION]: note } }),
  });
const refA = configArtifact(refBlobA, TYPE_A, 'test config a');
const refB = configArtifact(refBlobB, TYPE_B, 'test config b');
const refLayerA = layerArtifact(refBlobA, TYPE_A, 'test layer a');
const refLayerB = layerArtifact(refBlobB, TYPE_B, 'test layer b');
const refC = layerArtifact(refBlobB, TYPE_B, null, descriptorOf(MT.ociManifest, neverPushed));
const refIndex = pretty({
  schemaVersion: 2,
  mediaType: MT.ociIndex,
  artifactType: TYPE_INDEX,
  manifests: [descriptorOf(MT.ociManifest, refA), descriptorOf(MT.ociManifest, refLayerA)],
  subject,
  annotations: { [ANNOTATION]: 'test index' },
});
const expectedReferrers = new Map<string, { mediaType: string; size: number; artifactType: string; note: string }>([
  [sha256(refA), { mediaType: MT.ociManifest, size: refA.length, artifactType: TYPE_A, note: 'test config a' }],
  [sha256(refB), { mediaType: MT.ociManifest, size: refB.length, artifactType: TYPE_B, note: 'test config b' }],
  [sha256(refLayerA), { mediaType: MT.ociManifest, size: refLayerA.length, artifactType: TYPE_A, note: 'test layer a' }],
  [sha256(refLayerB), { mediaType: MT.ociManifest, size: refLayerB.length, artifactType: TYPE_B, note: 'test layer b' }],
  [sha256(refIndex), { mediaType: MT.ociIndex, size: refIndex.length, artifactType: TYPE_INDEX, note: 'test index' }],
]);

const TAGS = ['test0', 'test1', 'test2', 'test3'];

async function pushBlob(repo: string, bytes: Buffer): Promise<void> {
  const started = await client.fetch(`/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  const res = await client.fetch(`${started.headers.get('location')}?digest=${sha256(bytes)}`, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: bytes });
  expect(res.status, await res.text()).toBe(201);
}

/** PUT by digest; returns the OCI-Subject header. */
async function pushReferrer(bytes: Buffer, mediaType: string = MT.ociManifest): Promise<string | null> {
  const res = await client.putManifest(REPO, sha256(bytes), bytes, mediaType);
  expect(res.status, await res.text()).toBe(201);
  return res.headers.get('oci-subject');
}

interface Index {
  schemaVersion: number;
  mediaType: string;
  manifests: Array<Descriptor & { annotations?: Record<string, string> }>;
}

async function referrers(digest: string, query = ''): Promise<{ res: Response; index: Index }> {
  const res = await client.fetch(`/v2/${REPO}/referrers/${digest}${query}`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe(MT.ociIndex);
  const index = (await res.json()) as Index;
  expect(index.schemaVersion).toBe(2);
  expect(index.mediaType).toBe(MT.ociIndex);
  return { res, index };
}

async function tagsList(query = ''): Promise<{ res: Response; tags: string[] }> {
  const res = await client.fetch(`/v2/${REPO}/tags/list${query}`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as { name: string; tags: string[] };
  expect(body.name).toBe(REPO);
  return { res, tags: body.tags };
}

const subjectHeaders: Array<[string, string | null, string]> = [];

beforeAll(async () => {
  stowage = await startStowage();
  client = new RegistryClient(stowage.url);
  // "Populate registry with test blob/layer/tags", as the suite.
  for (const blob of [configs[0]!, layer]) await pushBlob(REPO, blob);
  for (const tag of TAGS) expect((await client.putManifest(REPO, tag, tagged, MT.ociManifest)).status).toBe(201);
  // "References setup", in the suite's order: referrers of manifests[4] before it exists, then it,
  // then more referrers, then one whose subject (manifests[3]) is never pushed.
  await pushBlob(REPO, emptyJSON);
  await pushBlob(REPO, refBlobA);
  subjectHeaders.push(['config artifact A', await pushReferrer(refA), subject.digest]);
  subjectHeaders.push(['layer artifact A', await pushReferrer(refLayerA), subject.digest]);
  subjectHeaders.push(['index artifact', await pushReferrer(refIndex, MT.ociIndex), subject.digest]);
  await pushBlob(REPO, configs[2]!);
  expect((await client.putManifest(REPO, 'tagtest0', subjectManifest, MT.ociManifest)).status).toBe(201);
  await pushBlob(REPO, refBlobB);
  subjectHeaders.push(['config artifact B', await pushReferrer(refB), subject.digest]);
  subjectHeaders.push(['layer artifact B', await pushReferrer(refLayerB), subject.digest]);
  subjectHeaders.push(['artifact C, subject never pushed', await pushReferrer(refC), sha256(neverPushed)]);
});
afterAll(async () => {
  await client.close();
  await stowage.close();
});

describe('Pushing manifests with subject', () => {
  it('discovery-1: every manifest with a subject is answered with OCI-Subject: <subject digest>, whether or not the subject exists', () => {
    for (const [what, header, expected] of subjectHeaders) expect({ what, header }).toEqual({ what, header: expected });
  });
});

describe('Test content discovery endpoints (listing tags)', () => {
  let all: string[] = [];

  it('discovery-2: GET request to list tags should yield 200 response, {name, tags} in lexical order', async () => {
    const { tags } = await tagsList();
    all = tags;
    expect(tags).toEqual(['tagtest0', ...TAGS]);
    expect(tags).toEqual([...tags].sort());
  });

  it('discovery-3: GET number of tags should be limitable by `n` query parameter (exactly n, Link rel="next")', async () => {
    const n = Math.floor(all.length / 2);
    const { res, tags } = await tagsList(`?n=${n}`);
    expect(tags).toEqual(all.slice(0, n));
    expect(res.headers.get('link')).toMatch(/^<[^>]+>; rel="next"$/);
  });

  it('discovery-4: GET start of tag is set by `last` query parameter (tags after it, not it)', async () => {
    const n = Math.floor(all.length / 2);
    const { tags } = await tagsList(`?n=${n}&last=${all[n - 1]}`);
    expect(tags.length).toBeLessThanOrEqual(n);
    expect(tags).toEqual(all.slice(n, 2 * n));
    expect(tags).not.toContain(all[n - 1]);
  });

  it('discovery-5: `last` without `n` lists every tag after it (the newer suite)', async () => {
    const half = all.length / 2;
    const last = all[Math.floor(half) - 1]!;
    const { tags } = await tagsList(`?last=${last}`);
    expect(tags).toEqual(all.filter((t) => t > last));
  });

  it('discovery-6: n=0 is an empty list and no Link header', async () => {
    const { res, tags } = await tagsList('?n=0');
    expect(tags).toEqual([]);
    expect(res.headers.get('link')).toBeNull();
  });

  it('discovery-7: following Link headers visits every tag once, and the last page has no Link', async () => {
    const seen: string[] = [];
    let next: string | null = `/v2/${REPO}/tags/list?n=2`;
    let pages = 0;
    while (next !== null && pages++ < 10) {
      const res: Response = await client.fetch(next);
      expect(res.status).toBe(200);
      seen.push(...((await res.json()) as { tags: string[] }).tags);
      const link = res.headers.get('link');
      next = link === null ? null : /^<([^>]+)>; rel="next"$/.exec(link)![1]!;
    }
    expect(seen).toEqual(all);
  });

  it('discovery-8: fewer than n tags are returned only at the end of the list', async () => {
    const { res, tags } = await tagsList(`?n=${all.length + 3}`);
    expect(tags).toEqual(all);
    expect(res.headers.get('link')).toBeNull();
  });

  it('discovery-9: tags sort ASCIIbetically (upper case before lower case, digits first)', async () => {
    const repo = 'conformance/discovery-order';
    await pushBlob(repo, configs[0]!);
    await pushBlob(repo, layer);
    for (const tag of ['b', 'B', 'a', '1', 'A_', 'a.b', 'a-b']) expect((await client.putManifest(repo, tag, tagged, MT.ociManifest)).status).toBe(201);
    const res = await client.fetch(`/v2/${repo}/tags/list`);
    expect(((await res.json()) as { tags: string[] }).tags).toEqual(['1', 'A_', 'B', 'a', 'a-b', 'a.b', 'b']);
  });

  it('discovery-10: a repository nothing was pushed to is 404 NAME_UNKNOWN (the suite accepts 200 or 404)', async () => {
    await expectOciError(await client.fetch('/v2/conformance/never-pushed/tags/list'), 404, 'NAME_UNKNOWN');
  });
});

describe('Test content discovery endpoints (listing references)', () => {
  it('discovery-11: GET request to nonexistent blob should result in empty 200 response', async () => {
    const { index } = await referrers(DUMMY_DIGEST);
    expect(index.manifests).toEqual([]);
  });

  it('discovery-12: the referrers API never answers 404, even in a repository that does not exist', async () => {
    const res = await client.fetch(`/v2/conformance/no-such-repo/referrers/${DUMMY_DIGEST}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(MT.ociIndex);
    expect(((await res.json()) as Index).manifests).toEqual([]);
  });

  it('discovery-13: GET request to existing blob should yield 200: the five referrers, with artifactType and annotations', async () => {
    const { index } = await referrers(subject.digest);
    expect(index.manifests).toHaveLength(5);
    expect(new Set(index.manifests.map((d) => d.digest)).size).toBe(5);
    for (const descriptor of index.manifests) {
      const expected = expectedReferrers.get(descriptor.digest);
      expect(expected, descriptor.digest).toBeDefined();
      expect(descriptor).toMatchObject({ mediaType: expected!.mediaType, size: expected!.size, artifactType: expected!.artifactType });
      expect(descriptor.annotations).toEqual({ [ANNOTATION]: expected!.note });
    }
  });

  it('discovery-14: GET request to existing blob with filter should yield 200: only that artifactType, and OCI-Filters-Applied', async () => {
    const { res, index } = await referrers(subject.digest, `?artifactType=${encodeURIComponent(TYPE_A)}`);
    expect(res.headers.get('oci-filters-applied')).toBe('artifactType');
    expect(index.manifests.map((d) => d.digest).sort()).toEqual([sha256(refA), sha256(refLayerA)].sort());
    for (const descriptor of index.manifests) {
      expect(descriptor.artifactType).toBe(TYPE_A);
      expect(descriptor.annotations).toEqual({ [ANNOTATION]: expectedReferrers.get(descriptor.digest)!.note });
    }
  });

  it('discovery-15: without a filter there is no OCI-Filters-Applied header', async () => {
    const { res } = await referrers(subject.digest);
    expect(res.headers.get('oci-filters-applied')).toBeNull();
  });

  it('discovery-16: GET request to missing manifest should yield 200: the one referrer of a subject never pushed', async () => {
    const { index } = await referrers(sha256(neverPushed));
    expect(index.manifests.map((d) => d.digest)).toEqual([sha256(refC)]);
    expect(index.manifests[0]!.artifactType).toBe(TYPE_B);
    expect(index.manifests[0]!.annotations).toBeUndefined();
  });

  it('discovery-17: an invalid digest is 400', async () => {
    await expectOciError(await client.fetch(`/v2/${REPO}/referrers/sha256:totallywrong`), 400, 'DIGEST_INVALID');
  });

  it('discovery-18: an empty artifactType falls back to the config media type; an index without one has none', async () => {
    const other = configOf('discovery-subject-2');
    await pushBlob(REPO, other);
    const otherSubject = descriptorOf(MT.ociManifest, manifestOf(other));
    const emptyType = pretty({ schemaVersion: 2, mediaType: MT.ociManifest, artifactType: '', config: descriptorOf(TYPE_B, refBlobB), subject: otherSubject, layers: [] });
    const untypedIndex = pretty({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [], subject: otherSubject });
    await pushReferrer(emptyType);
    await pushReferrer(untypedIndex, MT.ociIndex);
    const { index } = await referrers(otherSubject.digest);
    const byDigest = new Map(index.manifests.map((d) => [d.digest, d]));
    expect(byDigest.get(sha256(emptyType))!.artifactType).toBe(TYPE_B);
    expect(byDigest.get(sha256(untypedIndex))).toEqual({ mediaType: MT.ociIndex, digest: sha256(untypedIndex), size: untypedIndex.length });
  });

  it('discovery-19: pushing a referrer again (by tag) does not list it twice', async () => {
    expect((await client.putManifest(REPO, 'ref-a-again', refA, MT.ociManifest)).status).toBe(201);
    const { index } = await referrers(subject.digest);
    expect(index.manifests.filter((d) => d.digest === sha256(refA))).toHaveLength(1);
  });
});

describe('Teardown', () => {
  it('discovery-20: the manifests and tags created in setup delete with 202 (or 404 once already gone)', async () => {
    for (const reference of [sha256(refIndex), sha256(tagged), sha256(subjectManifest), sha256(refA), sha256(refLayerA), 'tagtest0', sha256(refB), sha256(refLayerB), sha256(refC)]) {
      const res = await client.fetch(`/v2/${REPO}/manifests/${reference}`, { method: 'DELETE' });
      expect({ reference, status: res.status }).toEqual({ reference, status: reference === 'tagtest0' ? 404 : 202 });
      await res.arrayBuffer();
    }
    const { index } = await referrers(subject.digest);
    expect(index.manifests).toEqual([]);
  });
});

