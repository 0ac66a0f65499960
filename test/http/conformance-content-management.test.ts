/**
 * OCI distribution-spec v1.1 conformance, Content Management workflow: the checks of the suite's
 * `04_management_test.go` (delete a tag, delete a manifest, 404 after delete, the tag list reflects
 * it, delete blobs) and of the newer runner's delete tests (deletes take effect at once, in the
 * order tags, manifests, blobs), over real HTTP against a hosted Stowage. Test names start with the
 * check id used in docs/conformance.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { bytesOf, expectOciError, MT, RegistryClient, sha256, type PushedImage, type Response } from './registry-client.js';

let stowage: RunningStowage;
let client: RegistryClient;

const REPO = 'conformance/management';
const TAG = 'tagtest0';

const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, author: 'management' }, null, '\t'));
const layer = bytesOf('conformance/management/layer', 2048);
const manifest = Buffer.from(
  JSON.stringify(
    { schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: sha256(config), size: config.length }, layers: [{ mediaType: MT.ociLayer, digest: sha256(layer), size: layer.length }] },
    null,
    '\t',
  ),
);

async function pushBlob(repo: string, bytes: Buffer): Promise<void> {
  const started = await client.fetch(`/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  const res = await client.fetch(`${started.headers.get('location')}?digest=${sha256(bytes)}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) },
    body: bytes,
  });
  expect(res.status, await res.text()).toBe(201);
}

const del = (path: string): Promise<Response> => client.fetch(path, { method: 'DELETE' });
const status = async (path: string, method = 'GET'): Promise<number> => {
  const res = await client.fetch(path, { method });
  await res.arrayBuffer();
  return res.status;
};
async function tagList(repo = REPO): Promise<string[]> {
  const res = await client.fetch(`/v2/${repo}/tags/list`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { tags: string[] }).tags;
}

let numTags = 0;

beforeAll(async () => {
  stowage = await startStowage();
  client = new RegistryClient(stowage.url);
  // Setup, as the suite: a config, a layer, and the manifest under the tag to delete.
  await pushBlob(REPO, config);
  await pushBlob(REPO, layer);
  expect((await client.putManifest(REPO, TAG, manifest, MT.ociManifest)).status).toBe(201);
  // "Check how many tags there are before anything gets deleted".
  numTags = (await tagList()).length;
  expect(numTags).toBe(1);
});
afterAll(async () => {
  await client.close();
  await stowage.close();
});

describe('Manifest delete', () => {
  it('management-1: DELETE request to manifest tag should return 202', async () => {
    const res = await del(`/v2/${REPO}/manifests/${TAG}`);
    expect(res.status).toBe(202);
    await res.arrayBuffer();
  });

  it('management-2: once deleted, GET and HEAD of the tag are 404 at once; the manifest stays by digest', async () => {
    await expectOciError(await client.fetch(`/v2/${REPO}/manifests/${TAG}`), 404, 'MANIFEST_UNKNOWN');
    expect(await status(`/v2/${REPO}/manifests/${TAG}`, 'HEAD')).toBe(404);
    expect(await status(`/v2/${REPO}/manifests/${sha256(manifest)}`)).toBe(200);
  });

  it('management-3: DELETE request to manifest (digest) should yield 202 response', async () => {
    const res = await del(`/v2/${REPO}/manifests/${sha256(manifest)}`);
    expect(res.status).toBe(202);
    await res.arrayBuffer();
  });

  it('management-4: GET (and HEAD) request to deleted manifest URL should yield 404 response', async () => {
    await expectOciError(await client.fetch(`/v2/${REPO}/manifests/${sha256(manifest)}`), 404, 'MANIFEST_UNKNOWN');
    expect(await status(`/v2/${REPO}/manifests/${sha256(manifest)}`, 'HEAD')).toBe(404);
  });

  it('management-5: GET request to tags list should reflect manifest deletion (200, fewer tags, even none)', async () => {
    const tags = await tagList();
    expect(tags.length).toBeLessThan(numTags);
    expect(tags).toEqual([]);
  });

  it('management-6: deleting a manifest by digest also removes every tag pointing at it', async () => {
    const image = await client.pushImage(REPO, 'a', { seed: 'management/tags' });
    for (const tag of ['b', 'c']) expect((await client.putManifest(REPO, tag, image.manifest, image.mediaType)).status).toBe(201);
    expect(await tagList()).toEqual(['a', 'b', 'c']);
    expect((await del(`/v2/${REPO}/manifests/${image.digest}`)).status).toBe(202);
    for (const tag of ['a', 'b', 'c']) expect(await status(`/v2/${REPO}/manifests/${tag}`)).toBe(404);
    expect(await tagList()).toEqual([]);
  });

  it('management-7: a second DELETE, an unknown tag, an impossible tag, or a repository that does not exist is 404', async () => {
    await expectOciError(await del(`/v2/${REPO}/manifests/${sha256(manifest)}`), 404, 'MANIFEST_UNKNOWN');
    await expectOciError(await del(`/v2/${REPO}/manifests/no-such-tag`), 404, 'MANIFEST_UNKNOWN');
    await expectOciError(await del(`/v2/${REPO}/manifests/.INVALID_MANIFEST_NAME`), 404, 'MANIFEST_UNKNOWN');
    await expectOciError(await del(`/v2/conformance/no-such-repo/manifests/${sha256(manifest)}`), 404, 'MANIFEST_UNKNOWN');
  });

  it('management-8: deleting a referrer removes it from its subject\'s referrers list', async () => {
    const subject = await client.pushImage(REPO, 'subject', { seed: 'management/subject' });
    const referrer = await client.pushImage(REPO, 'sig', { seed: 'management/sig', artifactType: 'application/vnd.example.sig', subject: subject.descriptor });
    const listed = async (): Promise<string[]> => {
      const res = await client.fetch(`/v2/${REPO}/referrers/${subject.digest}`);
      return ((await res.json()) as { manifests: Array<{ digest: string }> }).manifests.map((d) => d.digest);
    };
    expect(await listed()).toEqual([referrer.digest]);
    expect((await del(`/v2/${REPO}/manifests/${referrer.digest}`)).status).toBe(202);
    expect(await listed()).toEqual([]);
  });
});

describe('Blob delete', () => {
  it('management-9: DELETE request to blob URL should yield 202 response (config and layer)', async () => {
    for (const blob of [config, layer]) {
      const res = await del(`/v2/${REPO}/blobs/${sha256(blob)}`);
      expect(res.status).toBe(202);
      await res.arrayBuffer();
    }
  });

  it('management-10: GET (and HEAD) request to deleted blob URL should yield 404 response', async () => {
    await expectOciError(await client.fetch(`/v2/${REPO}/blobs/${sha256(config)}`), 404, 'BLOB_UNKNOWN');
    expect(await status(`/v2/${REPO}/blobs/${sha256(layer)}`, 'HEAD')).toBe(404);
  });

  it('management-11: DELETE of a blob that is not found is 404 BLOB_UNKNOWN', async () => {
    await expectOciError(await del(`/v2/${REPO}/blobs/${sha256(config)}`), 404, 'BLOB_UNKNOWN');
    await expectOciError(await del(`/v2/${REPO}/blobs/${sha256('never pushed')}`), 404, 'BLOB_UNKNOWN');
  });

  it('management-12: deleting a blob in one repository leaves it readable where else it was pushed', async () => {
    const shared = bytesOf('management/shared', 512);
    await pushBlob(REPO, shared);
    await pushBlob('conformance/management-other', shared);
    expect((await del(`/v2/${REPO}/blobs/${sha256(shared)}`)).status).toBe(202);
    expect(await status(`/v2/${REPO}/blobs/${sha256(shared)}`)).toBe(404);
    expect(await status(`/v2/conformance/management-other/blobs/${sha256(shared)}`)).toBe(200);
  });
});

describe('Full teardown, as the newer suite: tags, then manifests (last pushed first), then blobs', () => {
  it('management-13: every delete is 202 and takes effect at once (HEAD is 404 right after)', async () => {
    const repo = 'conformance/management-teardown';
    const images: PushedImage[] = [];
    for (const seed of ['amd64', 'arm64']) images.push(await client.pushImage(repo, seed, { seed: `management/${seed}` }));
    const index = await client.putManifest(repo, 'index', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: images.map((i) => i.descriptor) })), MT.ociIndex);
    expect(index.status).toBe(201);
    const indexDigest = index.headers.get('docker-content-digest')!;
    for (const tag of ['amd64', 'arm64', 'index']) {
      expect((await del(`/v2/${repo}/manifests/${tag}`)).status).toBe(202);
      expect(await status(`/v2/${repo}/manifests/${tag}`, 'HEAD')).toBe(404);
    }
    for (const digest of [indexDigest, ...images.map((i) => i.digest).reverse()]) {
      expect((await del(`/v2/${repo}/manifests/${digest}`)).status).toBe(202);
      expect(await status(`/v2/${repo}/manifests/${digest}`, 'HEAD')).toBe(404);
    }
    for (const blob of images.flatMap((i) => [i.config, ...i.layers])) {
      expect((await del(`/v2/${repo}/blobs/${sha256(blob)}`)).status).toBe(202);
      expect(await status(`/v2/${repo}/blobs/${sha256(blob)}`, 'HEAD')).toBe(404);
    }
    expect(await tagList(repo)).toEqual([]);
  });
});

