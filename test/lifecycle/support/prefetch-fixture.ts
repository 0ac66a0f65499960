import { fetch, type RequestInit, type Response } from 'undici';
import { expect } from 'vitest';
import { ACCEPT_ALL_MANIFESTS, sha256 } from '../../support/digests.js';
import { startFakeHub, type FakeHub, type FakeHubOptions } from '../../support/fake-hub.js';
import { RegistryClient } from '../../http/registry-client.js';
import { startStowage, type RunningStowage } from '../../support/stowage.js';
import { ManualClock } from '../../storage/contracts/support.js';

/**
 * A Stowage in front of a fake Docker Hub with `prefetch` configured (interval 0: runs start when
 * the test asks), a clock the test moves, and the steps the prefetch and pin tests share.
 */
export interface PrefetchFixture {
  hub: FakeHub;
  stowage: RunningStowage;
  client: RegistryClient;
  clock: ManualClock;
  api(path: string, init?: RequestInit): Promise<Response>;
  /** POST /api/v1/prefetch (with `refs` when given), then polls GET /api/v1/prefetch until the run ended; its JSON. */
  prefetch(refs?: string[]): Promise<any>;
  /**
   * Pulls `name:reference` as a client does — the manifest, for an index the child of `platform`,
   * config and layers — checking every digest. Returns the digests it read.
   */
  pull(name: string, reference: string, platform?: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function startPrefetchFixture(
  setup: (hub: FakeHub) => Record<string, unknown>,
  options: { hub?: FakeHubOptions; config?: Record<string, unknown> } = {},
): Promise<PrefetchFixture> {
  const hub = await startFakeHub(options.hub);
  const clock = new ManualClock(Date.now());
  const prefetch = setup(hub);
  const stowage = await startStowage({
    config: {
      hosted: ['team/**'],
      upstreams: { 'docker.io': { url: hub.url, tagTtl: '1h' } },
      defaultUpstream: 'docker.io',
      prefetch: { interval: 0, ...prefetch },
      ...options.config,
    },
    app: { now: clock.now },
  });
  await stowage.app.storage.indexed;
  const client = new RegistryClient(stowage.url);
  const api = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${stowage.url}/api/v1/${path}`, { ...init, headers: { 'X-Stowage-CSRF': '1', ...(init.headers as Record<string, string> | undefined) } });
  const getManifest = async (name: string, reference: string): Promise<{ body: any; digest: string }> => {
    const res = await client.fetch(`/v2/${name}/manifests/${reference}`, { headers: { Accept: ACCEPT_ALL_MANIFESTS } });
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(res.status, `${name}:${reference}`).toBe(200);
    return { body: JSON.parse(bytes.toString('utf8')), digest: sha256(bytes) };
  };
  return {
    hub,
    stowage,
    client,
    clock,
    api,
    async prefetch(refs) {
      const res = await api('prefetch', { method: 'POST', ...(refs ? { body: JSON.stringify({ refs }), headers: { 'Content-Type': 'application/json' } } : {}) });
      const text = await res.text();
      expect(res.status, text).toBe(202);
      const { run } = JSON.parse(text);
      for (;;) {
        const status = (await (await api('prefetch')).json()) as any;
        if (status.run?.id === run.id && status.run.finishedAt !== null) return status.run;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async pull(name, reference, platform = 'linux/amd64') {
      const read: string[] = [];
      let manifest = await getManifest(name, reference);
      read.push(manifest.digest);
      if (Array.isArray(manifest.body.manifests)) {
        const child = manifest.body.manifests.find((m: any) => `${m.platform.os}/${m.platform.architecture}` === platform);
        manifest = await getManifest(name, child.digest);
        read.push(manifest.digest);
      }
      for (const d of [manifest.body.config, ...manifest.body.layers]) {
        const res = await client.fetch(`/v2/${name}/blobs/${d.digest}`);
        const bytes = Buffer.from(await res.arrayBuffer());
        expect(res.status, `${name} blob ${d.digest}`).toBe(200);
        expect(sha256(bytes)).toBe(d.digest);
        read.push(d.digest);
      }
      return read;
    },
    async close() {
      await client.close();
      await stowage.close();
      await hub.close();
    },
  };
}
