import { fetch, type RequestInit, type Response } from 'undici';
import { expect } from 'vitest';
import { ACCEPT_ALL_MANIFESTS } from '../../support/digests.js';
import { startFakeHub, type FakeHub } from '../../support/fake-hub.js';
import { MediaType } from '../../../src/oci/media-types.js';
import { buildImage, type FakeImage } from '../../support/fake-hub-images.js';
import { jsonBytes, sha256 } from '../../http/registry-client.js';
import type { AppOptions } from '../../../src/app.js';
import { startStowage, type RunningStowage } from '../../support/stowage.js';
import { RegistryClient } from '../../http/registry-client.js';

/**
 * A Stowage with hosted repositories (`team/**`, `ci/*`) and Docker Hub as a fake hub upstream, and
 * the helpers the API tests share: JSON calls to /api/v1, pulls through the mirror as a client
 * makes them, pushes into hosted repositories.
 */
export interface ApiFixture {
  stowage: RunningStowage;
  hub: FakeHub;
  registry: RegistryClient;
  /** GET (or `init`) /api/v1/<path>; mutating calls carry the CSRF header unless `init.headers` says otherwise. */
  call(path: string, init?: RequestInit): Promise<Response>;
  /** GET /api/v1/<path>, expecting 200; the parsed body. */
  json<T = any>(path: string): Promise<T>;
  /** A full pull through the default upstream (Docker Hub): manifest(s) by tag, config and layers. */
  pull(name: string, tag: string, options?: { platform?: string; skipBlobs?: boolean }): Promise<void>;
  close(): Promise<void>;
}

export async function startApiFixture(config: Record<string, unknown> = {}, app: AppOptions = {}): Promise<ApiFixture> {
  const hub = await startFakeHub();
  const stowage = await startStowage({
    config: {
      hosted: ['team/**', 'ci/*'],
      upstreams: { 'docker.io': { url: hub.url, tagTtl: '1h' } },
      defaultUpstream: 'docker.io',
      ...config,
    },
    app,
  });
  const registry = new RegistryClient(stowage.url);
  const call = (path: string, init: RequestInit = {}): Promise<Response> => {
    const method = init.method ?? 'GET';
    const headers = method === 'GET' || init.headers ? init.headers : { 'X-Stowage-CSRF': '1' };
    return fetch(`${stowage.url}/api/v1/${path}`, { ...init, ...(headers ? { headers } : {}) });
  };
  const json = async (path: string): Promise<any> => {
    const res = await call(path);
    const text = await res.text();
    expect(res.status, text).toBe(200);
    return JSON.parse(text);
  };
  const getManifest = async (name: string, reference: string): Promise<{ mediaType: string; body: any }> => {
    const res = await registry.fetch(`/v2/${name}/manifests/${reference}`, { headers: { Accept: ACCEPT_ALL_MANIFESTS } });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    return { mediaType: res.headers.get('content-type')!, body: JSON.parse(text) };
  };
  const pull = async (name: string, tag: string, options: { platform?: string; skipBlobs?: boolean } = {}): Promise<void> => {
    let manifest = await getManifest(name, tag);
    if (Array.isArray(manifest.body.manifests)) {
      const wanted = options.platform ?? 'linux/amd64';
      const child = manifest.body.manifests.find((m: any) => `${m.platform.os}/${m.platform.architecture}` === wanted);
      manifest = await getManifest(name, child.digest);
    }
    if (options.skipBlobs) return;
    for (const d of [manifest.body.config, ...manifest.body.layers]) {
      const res = await registry.fetch(`/v2/${name}/blobs/${d.digest}`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
  };
  return {
    stowage,
    hub,
    registry,
    call,
    json,
    pull,
    async close() {
      await registry.close();
      await stowage.close();
      await hub.close();
    },
  };
}

/** Pushes a hosted image built like the hub's (config with `created`, platform, N layers). */
export async function pushHosted(registry: RegistryClient, name: string, tag: string, options: Parameters<typeof buildImage>[0] = {}): Promise<FakeImage> {
  const image = buildImage(options);
  for (const blob of [image.config, ...image.layers]) await registry.pushBlob(name, blob.bytes, blob.digest);
  const res = await registry.putManifest(name, tag, image.bytes, image.mediaType);
  expect(res.status, await res.text()).toBe(201);
  return image;
}

/**
 * A multi-platform index on the hub, as `docker buildx --provenance` pushes it: linux/amd64 and
 * linux/arm64/v8 images plus a BuildKit attestation entry (`unknown/unknown` with
 * `vnd.docker.reference.type`) about the amd64 image.
 */
export function addIndexWithAttestation(hub: FakeHub, repository: string, tag: string, layerSize = 1024): { digest: string; amd64: string; arm64: string; attestation: string } {
  const amd64 = buildImage({ platform: { os: 'linux', architecture: 'amd64' }, layerCount: 2, layerSize });
  const arm64 = buildImage({ platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, layerCount: 1, layerSize });
  for (const image of [amd64, arm64]) {
    for (const blob of [image.config, ...image.layers]) hub.addBlob(repository, blob.bytes);
    hub.addManifest(repository, image.digest, image.bytes, image.mediaType);
  }
  const attestation = jsonBytes({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256('{}'), size: 2 }, layers: [] });
  const index = jsonBytes({
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [
      { mediaType: amd64.mediaType, digest: amd64.digest, size: amd64.bytes.length, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: arm64.mediaType, digest: arm64.digest, size: arm64.bytes.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      {
        mediaType: MediaType.OciManifest,
        digest: sha256(attestation),
        size: attestation.length,
        platform: { os: 'unknown', architecture: 'unknown' },
        annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': amd64.digest },
      },
    ],
  });
  const digest = hub.addManifest(repository, tag, index, MediaType.OciIndex);
  return { digest, amd64: amd64.digest, arm64: arm64.digest, attestation: sha256(attestation) };
}
