/**
 * Figure 11 (issue 13): two replicas behind a round-robin nginx, sharing a bucket of a Ceph RGW
 * started for the figure and a Redis; 20 clients GET the same cold 300 MB blob through nginx, so
 * about half of them land on each replica. Upstream bytes must be 1× the blob: one replica downloads,
 * the other streams from it (docs/deployment.md). Side by side: two reference registries behind the
 * same kind of nginx on one shared storage directory (how distribution scales out), where each
 * replica downloads on its own.
 */
import { randomBytes } from 'node:crypto';
import { startCephRgw } from '../../test/support/ceph-rgw.js';
import { startNginx, type Nginx } from '../../test/support/nginx.js';
import { tempDir, waitFor } from '../../test/support/processes.js';
import { startRedis } from '../../test/support/redis-server.js';
import { createTestBucket } from '../../test/support/s3-test-bucket.js';
import { concurrentHashedGets } from '../clients.js';
import { blobUrl, type Bench } from '../context.js';
import { fmt } from '../report.js';
import { startReference, startStowage, type Server } from '../subjects.js';

interface Run {
  multiple: number;
  wallMs: number;
  right: number;
}

export async function clusterFigure(ctx: Bench): Promise<void> {
  const { hub, images } = ctx;
  const size = images.big.layerSize;
  ctx.log('figure 11: starting Ceph RGW (memstore), Redis, two Stowage replicas and two reference registries, each pair behind nginx');
  const [redis, shared] = await Promise.all([startRedis(), tempDir('bench-reference-shared')]);
  const rgw = await startCephRgw({ memoryBytes: 2 * 1024 ** 3 }).catch(async (error: unknown) => {
    await Promise.all([redis.stop(), shared.remove()]);
    throw error;
  });
  const servers: Array<Server | Nginx> = [];
  try {
    const bucket = await createTestBucket(rgw, 'stowage-bench-cluster', { prefix: 'stowage/' });
    const cluster = { redis: redis.url, secret: randomBytes(24).toString('hex') };
    const replicas = await Promise.all([0, 1].map(() => startStowage({ upstreamUrl: hub.url, logLevel: ctx.options.logLevel, storage: { driver: 's3', s3: bucket.settings }, cluster })));
    servers.push(...replicas);
    await waitFor(async () => {
      for (const replica of replicas) {
        const ready = (await (await fetch(`${replica.url}/readyz`)).json()) as { checks: { redis?: string } };
        if (ready.checks.redis !== 'ok') return false;
      }
      return true;
    }, { timeoutMs: 30_000, description: 'both replicas connected to Redis' });
    const references = await Promise.all([0, 1].map(() => startReference({ remoteUrl: hub.url, dataDir: shared.path })));
    servers.push(...references);
    const [stowageLb, referenceLb] = await Promise.all([startNginx({ upstreams: replicas.map((r) => r.url) }), startNginx({ upstreams: references.map((r) => r.url) })]);
    servers.push(stowageLb, referenceLb);

    const measure = async (url: string): Promise<Run> => {
      await hub.quiet();
      const before = await hub.stats();
      const { wallMs, results } = await concurrentHashedGets(blobUrl({ url }, images), ctx.options.clients);
      // A download may outlast its clients (the reference stores what it streamed): count all of it.
      await hub.quiet();
      const after = await hub.stats();
      const right = results.filter((t) => t.exitCode === 0 && t.status === 200 && t.digest === images.big.layerDigest).length;
      return { multiple: (after.bytes - before.bytes) / size, wallMs, right };
    };
    const s = await measure(stowageLb.url);
    const r = await measure(referenceLb.url);
    ctx.raw.cluster = { stowage: s, reference: r };
    for (const [name, run] of [['stowage', s], ['reference', r]] as const) {
      ctx.log(`2 replicas behind nginx, 20 cold GETs, ${name}: upstream ${run.multiple.toFixed(2)}× blob, ${(run.wallMs / 1000).toFixed(1)} s, ${run.right}/${ctx.options.clients} right`);
    }
    ctx.rows.push({
      figure: '11. 2 replicas behind nginx, 20 cold GETs over both: upstream bytes',
      stowage: `${s.multiple.toFixed(2)}× blob (${s.right}/${ctx.options.clients} right, ${(s.wallMs / 1000).toFixed(1)} s)`,
      reference: `${r.multiple.toFixed(2)}× blob (${r.right}/${ctx.options.clients} right, ${(r.wallMs / 1000).toFixed(1)} s)`,
      ratio: fmt.ratio(s.multiple, r.multiple),
      target: 'exactly 1× blob size, every client right',
      pass: Math.round(s.multiple * 100) === 100 && s.right === ctx.options.clients,
    });
  } finally {
    await Promise.all(servers.map((server) => ('stop' in server ? server.stop() : server.close())));
    await Promise.all([rgw.stop(), redis.stop(), shared.remove()]);
  }
}
