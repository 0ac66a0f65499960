import { fetch, type RequestInit, type Response } from 'undici';
import { expect } from 'vitest';
import { ACCEPT_ALL_MANIFESTS, sha256 } from '../../support/digests.js';
import { RegistryClient, type PushedImage } from '../../http/registry-client.js';
import { startStowage, type RunningStowage } from '../../support/stowage.js';
import { ManualClock } from '../../storage/contracts/support.js';

/**
 * A Stowage whose clock the test moves (GC's grace period, retention ages), with hosted repositories
 * under `team/**`, and the client steps the GC tests share. The clock starts at the real time, so
 * file times the store keeps (a blob's mtime) are never ahead of it.
 */
export interface HostedFixture {
  stowage: RunningStowage;
  client: RegistryClient;
  clock: ManualClock;
  /** POST /api/v1/gc (`?dryRun=true` when dry); expects 200 and returns the report. */
  gc(options?: { dryRun?: boolean }): Promise<any>;
  api(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export const HOUR = 3_600_000;

export async function startHostedFixture(config: Record<string, unknown> = {}): Promise<HostedFixture> {
  const clock = new ManualClock(Date.now());
  const stowage = await startStowage({ config: { hosted: ['team/**'], ...config }, app: { now: clock.now } });
  await stowage.app.storage.indexed;
  const client = new RegistryClient(stowage.url);
  const api = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${stowage.url}/api/v1/${path}`, { ...init, headers: { 'X-Stowage-CSRF': '1', ...(init.headers as Record<string, string> | undefined) } });
  return {
    stowage,
    client,
    clock,
    api,
    async gc(options = {}) {
      const res = await api(`gc${options.dryRun ? '?dryRun=true' : ''}`, { method: 'POST' });
      const text = await res.text();
      expect(res.status, text).toBe(200);
      return JSON.parse(text);
    },
    async close() {
      await client.close();
      await stowage.close();
    },
  };
}

/**
 * A push as docker makes it: HEAD each blob and upload only those the registry does not have
 * (the step that races GC), then PUT the manifest. Returns the manifest PUT's response.
 */
export async function pushLikeDocker(client: RegistryClient, repo: string, reference: string, image: PushedImage): Promise<Response> {
  for (const blob of [image.config, ...image.layers]) {
    const head = await client.fetch(`/v2/${repo}/blobs/${sha256(blob)}`, { method: 'HEAD' });
    if (head.status === 200) continue;
    expect(head.status).toBe(404);
    await client.pushBlob(repo, blob);
  }
  return client.putManifest(repo, reference, image.manifest, image.mediaType);
}

/** Pulls `reference` and every blob it names, checking each against its digest. */
export async function expectComplete(client: RegistryClient, repo: string, reference: string, image: PushedImage): Promise<void> {
  const res = await client.fetch(`/v2/${repo}/manifests/${reference}`, { headers: { Accept: ACCEPT_ALL_MANIFESTS } });
  const body = Buffer.from(await res.arrayBuffer());
  expect(res.status, `${repo}:${reference}`).toBe(200);
  expect(sha256(body)).toBe(image.digest);
  for (const blob of [image.config, ...image.layers]) {
    const got = await client.fetch(`/v2/${repo}/blobs/${sha256(blob)}`);
    const bytes = Buffer.from(await got.arrayBuffer());
    expect(got.status, `${repo} blob ${sha256(blob)}`).toBe(200);
    expect(sha256(bytes)).toBe(sha256(blob));
  }
}

/** HEAD of a blob in a repository: its status. */
export async function blobStatus(client: RegistryClient, repo: string, digest: string): Promise<number> {
  const res = await client.fetch(`/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  await res.arrayBuffer();
  return res.status;
}

/** PUTs a manifest and expects 201. */
export async function putManifest(client: RegistryClient, repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<void> {
  const res = await client.putManifest(repo, reference, bytes, mediaType);
  expect(res.status, await res.text()).toBe(201);
}

/** An OCI image of exactly these layers (shared layers are the same bytes), optionally a referrer of `subject`. */
export function makeImage(seed: string, layers: Buffer[], options: { subject?: PushedImage; artifactType?: string } = {}): PushedImage {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed, rootfs: { type: 'layers', diff_ids: [] } }));
  const descriptor = (mediaType: string, bytes: Buffer) => ({ mediaType, digest: sha256(bytes), size: bytes.length });
  const mediaType = 'application/vnd.oci.image.manifest.v1+json';
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType,
    ...(options.artifactType ? { artifactType: options.artifactType } : {}),
    config: descriptor('application/vnd.oci.image.config.v1+json', config),
    layers: layers.map((l) => descriptor('application/vnd.oci.image.layer.v1.tar+gzip', l)),
    ...(options.subject ? { subject: options.subject.descriptor } : {}),
  }));
  const digest = sha256(manifest);
  return { config, layers, manifest, mediaType, digest, descriptor: { mediaType, digest, size: manifest.length } };
}

/** An OCI index of these images, one platform each. */
export function makeIndex(images: PushedImage[]): { bytes: Buffer; digest: string; mediaType: string } {
  const mediaType = 'application/vnd.oci.image.index.v1+json';
  const arch = ['amd64', 'arm64', 's390x', 'ppc64le'];
  const bytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType,
    manifests: images.map((image, i) => ({ ...image.descriptor, platform: { os: 'linux', architecture: arch[i % arch.length] } })),
  }));
  return { bytes, digest: sha256(bytes), mediaType };
}

/** A small seeded PRNG (mulberry32): a failing round can be replayed with GC_RACE_SEED. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
