import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/oci/media-types.js';
import { expectOciError, jsonBytes, sha256 } from '../http/registry-client.js';
import { buildImage } from '../support/fake-hub-images.js';
import { addIndexWithAttestation, pushHosted, startApiFixture, type ApiFixture } from './support/api-fixture.js';

describe('tags and manifests', () => {
  let f: ApiFixture;
  let hubRequests = 0;
  const index: { digest: string; amd64: string; arm64: string; attestation: string } = { digest: '', amd64: '', arm64: '', attestation: '' };
  let signedImage = '';

  beforeAll(async () => {
    f = await startApiFixture();
    Object.assign(index, addIndexWithAttestation(f.hub, 'library/multi', 'latest'));
    await f.pull('library/multi', 'latest', { platform: 'linux/amd64' });

    // Hosted: three tags of different ages and sizes, one image signed with a cosign-style tag and
    // one with an OCI referrer.
    await pushHosted(f.registry, 'team/app', 'old', { layerCount: 1, layerSize: 100 });
    await new Promise((r) => setTimeout(r, 15));
    const signed = await pushHosted(f.registry, 'team/app', 'mid', { layerCount: 3, layerSize: 3000 });
    signedImage = signed.digest;
    await new Promise((r) => setTimeout(r, 15));
    const referred = await pushHosted(f.registry, 'team/app', 'new', { layerCount: 1, layerSize: 10_000 });
    // cosign's tag scheme: sha256-<hex>.sig is a signature of sha256:<hex>.
    const sig = buildImage({ layerCount: 1, layerSize: 50 });
    for (const blob of [sig.config, ...sig.layers]) await f.registry.pushBlob('team/app', blob.bytes, blob.digest);
    expect((await f.registry.putManifest('team/app', `sha256-${signed.digest.slice(7)}.sig`, sig.bytes, sig.mediaType)).status).toBe(201);
    // An SBOM referrer of `new` (OCI 1.1 subject): an attached artifact, not a signature.
    const emptyConfig = Buffer.from('{}');
    await f.registry.pushBlob('team/app', emptyConfig);
    const sbomLayer = Buffer.from('{"spdxVersion":"SPDX-2.3"}');
    await f.registry.pushBlob('team/app', sbomLayer);
    const sbom = jsonBytes({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: 'application/spdx+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(emptyConfig), size: 2 },
      layers: [{ mediaType: 'application/spdx+json', digest: sha256(sbomLayer), size: sbomLayer.length }],
      subject: { mediaType: referred.mediaType, digest: referred.digest, size: referred.bytes.length },
    });
    expect((await f.registry.putManifest('team/app', sha256(sbom), sbom, MediaType.OciManifest)).status).toBe(201);
    hubRequests = f.hub.count();
  });
  afterAll(() => f.close());

  it('lists tags with type, platforms, size, created, dates, pulls and the signed mark', async () => {
    const body = await f.json('repositories/team/app/tags');
    expect(body).toMatchObject({ name: 'team/app', kind: 'hosted', permissions: { delete: true, refresh: false }, total: 4 });
    const byTag = Object.fromEntries(body.tags.map((t: any) => [t.tag, t]));
    expect(byTag.mid).toMatchObject({ type: 'image', platforms: ['linux/amd64'], signed: true, pulls: 0, lastPulledAt: null });
    expect(byTag.old.signed).toBe(false);
    expect(byTag.new.signed).toBe(false); // an SBOM is attached, but nothing signs it
    expect(byTag.mid.size).toBeGreaterThan(9000);
    expect(Date.parse(byTag.mid.created)).toBeGreaterThan(Date.now() - 60_000);
    expect(Date.parse(byTag.new.updatedAt)).toBeGreaterThan(Date.parse(byTag.old.updatedAt));
  });

  it('sorts tags by every column, dates included, and pages them', async () => {
    const tags = async (q: string): Promise<string[]> => (await f.json(`repositories/team/app/tags?${q}`)).tags.map((t: any) => t.tag);
    expect(await tags('q=new,old&sort=name')).toEqual([]);
    expect(await tags('sort=pushed&order=asc&q=?e?')).toEqual(['new']);
    expect(await tags('sort=pushed&order=asc&q=*d')).toEqual(['old', 'mid']);
    expect((await tags('sort=pushed')).slice(0, 1)).toEqual([`sha256-${signedImage.slice(7)}.sig`]);
    expect((await tags('sort=size')).slice(0, 2)).toEqual(['new', 'mid']);
    expect((await tags('sort=created&order=asc')).filter((t) => !t.endsWith('.sig'))).toEqual(['old', 'mid', 'new']);
    for (const column of ['digest', 'type', 'platforms', 'pulled', 'pulls', 'revalidated']) {
      expect((await tags(`sort=${column}`)).sort()).toHaveLength(4);
    }
    const page1 = await f.json('repositories/team/app/tags?sort=name&limit=3');
    expect(page1.tags.map((t: any) => t.tag)).toEqual(['mid', 'new', 'old']);
    const page2 = await f.json(`repositories/team/app/tags?sort=name&limit=3&cursor=${page1.nextCursor}`);
    expect(page2.tags.map((t: any) => t.tag)).toEqual([`sha256-${signedImage.slice(7)}.sig`]);
    expect(page2.nextCursor).toBeNull();
  });

  it('shows a cached index: platforms without the attestation, which children are cached, no upstream request', async () => {
    const tags = await f.json('repositories/docker.io/library/multi/tags');
    expect(tags.tags).toHaveLength(1);
    expect(tags.tags[0]).toMatchObject({ tag: 'latest', type: 'index', platforms: ['linux/amd64', 'linux/arm64/v8'], platformsCached: 1, pulls: 1 });
    expect(Date.parse(tags.tags[0].revalidatedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(tags.tags[0].stale).toBe(false);

    const m = await f.json('repositories/docker.io/library/multi/manifests/latest');
    expect(m).toMatchObject({ digest: index.digest, type: 'index', tags: ['latest'], cached: true, signed: false });
    expect(m.platforms.map((p: any) => [p.platform, p.digest, p.cached])).toEqual([
      ['linux/amd64', index.amd64, true],
      ['linux/arm64/v8', index.arm64, false],
    ]);
    expect(m.attestations).toEqual([expect.objectContaining({ digest: index.attestation, about: index.amd64 })]);
    expect(m.raw.manifests).toHaveLength(3);

    // The platform never pulled is "not cached", and looking at it fetches nothing.
    await expectOciError(await f.call(`repositories/docker.io/library/multi/manifests/${index.arm64}`), 404, 'MANIFEST_UNKNOWN');
    const child = await f.json(`repositories/docker.io/library/multi/manifests/${index.amd64}`);
    expect(child).toMatchObject({ type: 'image', pulls: 1 });
    expect(child.layers).toHaveLength(2);
    expect(child.layers.every((l: any) => l.cached)).toBe(true);
    expect(child.config).toMatchObject({ cached: true, platform: 'linux/amd64', os: 'linux' });
    expect(Date.parse(child.config.created)).toBeGreaterThan(0);
    expect(f.hub.count()).toBe(hubRequests);
  });

  it('shows a hosted image: layers, config, history, referrers and signature tags', async () => {
    const mid = await f.json('repositories/team/app/manifests/mid');
    expect(mid).toMatchObject({ type: 'image', digest: signedImage, signed: true, tags: ['mid'], history: [] });
    expect(mid.signatureTags).toEqual([{ tag: `sha256-${signedImage.slice(7)}.sig`, kind: 'signature' }]);
    expect(mid.layers).toHaveLength(3);
    expect(mid.layers.every((l: any) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+gzip' && l.cached)).toBe(true);
    expect(mid.size).toBe(mid.config.size + mid.layers.reduce((s: number, l: any) => s + l.size, 0));

    const latest = await f.json('repositories/team/app/manifests/new');
    expect(latest.signed).toBe(false);
    expect(latest.referrers).toEqual([expect.objectContaining({ artifactType: 'application/spdx+json', kind: 'sbom' })]);
    const byDigest = await f.json(`repositories/team/app/manifests/${encodeURIComponent(latest.digest)}`);
    expect(byDigest.digest).toBe(latest.digest);
    await expectOciError(await f.call('repositories/team/app/manifests/nope'), 404, 'MANIFEST_UNKNOWN');
    await expectOciError(await f.call('repositories/team/app/manifests/sha256:abc'), 400, 'DIGEST_INVALID');
  });

  it('deletes a hosted tag and a manifest with the registry semantics; cached content is read-only', async () => {
    await pushHosted(f.registry, 'team/del', 'a');
    const b = await pushHosted(f.registry, 'team/del', 'b');
    expect((await f.call('repositories/team/del/tags/a', { method: 'DELETE' })).status).toBe(204);
    expect((await f.json('repositories/team/del/tags')).tags.map((t: any) => t.tag)).toEqual(['b']);
    expect((await f.registry.fetch('/v2/team/del/manifests/a')).status).toBe(404);
    await expectOciError(await f.call('repositories/team/del/tags/a', { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');

    expect((await f.call(`repositories/team/del/manifests/${b.digest}`, { method: 'DELETE' })).status).toBe(204);
    expect((await f.json('repositories/team/del/tags')).tags).toEqual([]);
    expect((await f.registry.fetch(`/v2/team/del/manifests/${b.digest}`)).status).toBe(404);

    await expectOciError(await f.call('repositories/docker.io/library/multi/tags/latest', { method: 'DELETE' }), 405, 'UNSUPPORTED');
    expect((await f.json('repositories/docker.io/library/multi/tags')).tags).toHaveLength(1);
  });

  it('refuses mutating calls without the CSRF header or from another site', async () => {
    await pushHosted(f.registry, 'team/csrf', 'keep');
    const del = (headers: Record<string, string>) => f.call('repositories/team/csrf/tags/keep', { method: 'DELETE', headers });
    await expectOciError(await del({}), 403, 'DENIED');
    await expectOciError(await del({ 'X-Stowage-CSRF': '1', Origin: 'https://evil.example' }), 403, 'DENIED');
    await expectOciError(await del({ 'X-Stowage-CSRF': '1', 'Sec-Fetch-Site': 'cross-site' }), 403, 'DENIED');
    expect((await f.json('repositories/team/csrf/tags')).tags.map((t: any) => t.tag)).toEqual(['keep']);
    expect((await del({ 'X-Stowage-CSRF': '1', Origin: f.stowage.url, 'Sec-Fetch-Site': 'same-origin' })).status).toBe(204);
  });

  it('refreshes a cached tag now: one upstream HEAD, no GET when the tag did not move', async () => {
    f.hub.reset();
    const res = await f.call('repositories/docker.io/library/multi/tags/latest/refresh', { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ tag: 'latest', digest: index.digest, changed: false, stale: false });
    expect(f.hub.count({ kind: 'manifest', method: 'HEAD' })).toBe(1);
    expect(f.hub.count({ kind: 'manifest', method: 'GET' })).toBe(0);
    await expectOciError(await f.call('repositories/team/app/tags/mid/refresh', { method: 'POST' }), 405, 'UNSUPPORTED');
  });
});
