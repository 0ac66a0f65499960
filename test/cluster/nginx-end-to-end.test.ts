/**
 * Issue 13, "real parts": two replicas sharing a bucket (Ceph RGW) and a Redis, behind a real nginx
 * doing round robin with the settings a registry needs (test/support/nginx.ts, docs/deployment.md).
 * skopeo pushes through it — the POST, PATCHes and PUTs of one upload land on different replicas —
 * and pulls back identical bytes; the private dockerd pulls alpine through it as its registry
 * mirror, and each blob leaves the upstream once.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../../src/oci/digest.js';
import { canIsolateFromDockerHub, writeOfflineHosts } from '../support/docker-hub-offline.js';
import { DOCKER_CLI, DOCKERD, startDockerd, type Dockerd } from '../support/dockerd.js';
import { startMirrorFixture, type MirrorFixture } from '../support/mirror-fixture.js';
import { startNginx, type Nginx } from '../support/nginx.js';
import { blobsOf, buildImage, readOciLayout, writeOciLayout } from '../support/oci-layout.js';
import { requireTool, tempDir } from '../support/processes.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { REFERENCE_REGISTRY_BINARY } from '../support/reference-registry.js';
import { createSkopeo, type Skopeo } from '../support/skopeo.js';
import { sharedStore, startStowageCluster, type StowageCluster } from '../support/stowage-cluster.js';

const available = [DOCKERD, DOCKER_CLI, REFERENCE_REGISTRY_BINARY, 'skopeo', 'unshare', 'nginx', 'redis-server'].map(requireTool).every(Boolean);

describe.runIf(available && canIsolateFromDockerHub() && sharedStore())('two replicas behind nginx', { timeout: 120_000 }, () => {
  let fixture: MirrorFixture;
  let redis: RedisServer;
  let cluster: StowageCluster;
  let nginx: Nginx;
  let skopeo: Skopeo;
  let work: Awaited<ReturnType<typeof tempDir>>;
  /** Per replica: `METHOD path status` of every request that reached it. */
  const seen: string[][] = [];

  beforeAll(async () => {
    work = await tempDir('nginx-e2e');
    [fixture, redis, skopeo] = await Promise.all([startMirrorFixture(), startRedis(), createSkopeo({ timeoutMs: 60_000 })]);
    cluster = await startStowageCluster({
      replicas: 2,
      redisUrl: redis.url,
      config: { hosted: ['team/**'], upstreams: { 'docker.io': { url: fixture.hub.url } }, defaultUpstream: 'docker.io', server: { trustProxy: true } },
    });
    for (const replica of cluster.replicas) {
      const log: string[] = [];
      seen.push(log);
      replica.app.server.server.on('request', (request, response) => {
        response.once('finish', () => log.push(`${request.method} ${request.url} ${response.statusCode}`));
      });
    }
    nginx = await startNginx({ upstreams: cluster.replicas.map((r) => r.url) });
  }, 120_000);

  afterAll(async () => {
    await nginx?.stop();
    await cluster?.close();
    await Promise.all([redis?.stop(), fixture?.close(), skopeo?.close()]);
    await work?.remove();
  }, 60_000);

  it('skopeo pushes through the balancer (uploads spread over both replicas) and pulls back identical bytes', async () => {
    const image = buildImage({ layers: 4, layerSize: 3 * 1024 * 1024, seed: 'nginx-e2e/pushed' });
    const layout = join(work.path, 'push');
    await writeOciLayout(layout, { tag: 'v1', root: image });
    await skopeo.copy(`oci:${layout}:v1`, `docker://${nginx.host}/team/app:v1`, ['--preserve-digests']);

    // Every replica took part in the pushes: upload requests reached both.
    for (const log of seen) expect(log.filter((line) => /^(POST|PATCH|PUT) \/v2\/team\/app\/blobs\/uploads\//.test(line)).length).toBeGreaterThan(0);

    const out = join(work.path, 'pull');
    await skopeo.copy(`docker://${nginx.host}/team/app:v1`, `oci:${out}:v1`, ['--preserve-digests']);
    const pulled = await readOciLayout(out, 'v1');
    expect(pulled.descriptor.digest).toBe(image.manifestDigest);
    for (const blob of blobsOf(image)) expect(digestOf(pulled.blobs.get(blob.digest)!)).toBe(blob.digest);
    // Each replica on its own serves the same manifest.
    for (const replica of cluster.replicas) {
      expect((await skopeo.inspectRaw(`docker://${replica.host}/team/app:v1`)).equals(image.manifestBytes)).toBe(true);
    }
  });

  it('the private dockerd pulls alpine through the balancer as its registry mirror; each blob leaves the upstream once', async () => {
    const { hub, image } = fixture;
    const dockerd: Dockerd = await startDockerd({
      registryMirrors: [nginx.url],
      insecureRegistries: [nginx.host],
      hostsFile: await writeOfflineHosts(work.path),
    });
    try {
      hub.reset();
      await dockerd.docker(['pull', 'alpine']);
      const inspected = JSON.parse((await dockerd.docker(['image', 'inspect', 'alpine'])).stdout) as Array<{ RepoDigests: string[]; Id: string }>;
      expect(inspected[0]!.RepoDigests).toContain(`alpine@${image.manifestDigest}`);
      expect(inspected[0]!.Id).toBe(image.configDigest);
      const blobs = [image.configDigest, ...image.layers.map((l) => l.digest)];
      expect(hub.count({ kind: 'cdn', method: 'GET' })).toBe(blobs.length);
    } finally {
      await dockerd.close();
    }
  });
});
