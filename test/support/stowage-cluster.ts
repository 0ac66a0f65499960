/**
 * Several Stowage replicas as one (issue 13): in-process apps on distinct loopback ports sharing one
 * bucket of the test object store (a real Ceph RGW: the `s3` test project) and one real Redis, each
 * with its own data directory (its local fill spool) and advertising its own URL to the others.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { startFakeHub, type FakeHub, type FakeHubOptions } from './fake-hub.js';
import { freePort, waitFor } from './processes.js';
import { startRedis, type RedisServer } from './redis-server.js';
import { createTestBucket, type S3Store, type TestBucket } from './s3-test-bucket.js';
import type { AppOptions } from '../../src/app.js';
import { startStowage, type RunningStowage } from './stowage.js';

export interface StowageCluster {
  replicas: RunningStowage[];
  secret: string;
  /** The bucket the replicas share. */
  bucket: TestBucket;
  close(): Promise<void>;
}

/** The test object store of the `s3` project; null elsewhere (the cluster tests run in that project only). */
export const sharedStore = (): S3Store | null => inject('s3Store');

export async function startStowageCluster(options: {
  replicas: number;
  redisUrl: string;
  config?: Record<string, unknown>;
  /** Extra `cluster` settings (claimTtl…). */
  cluster?: Record<string, unknown>;
  /** App options every replica gets (a test clock…). */
  app?: AppOptions;
}): Promise<StowageCluster> {
  const store = sharedStore();
  if (!store) throw new Error('the cluster tests run in the s3 project (vitest.config.ts), on a shared bucket');
  const bucket = await createTestBucket(store, undefined, { prefix: 'registry/' });
  const secret = randomBytes(24).toString('hex');
  const replicas: RunningStowage[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(replicas.map((r) => r.close()));
    await bucket.remove();
  };
  try {
    for (let i = 0; i < options.replicas; i++) {
      const port = await freePort();
      replicas.push(
        await startStowage({
          port,
          config: {
            ...options.config,
            storage: { ...(options.config?.storage as object | undefined), driver: 's3', s3: bucket.settings },
            cluster: { redis: options.redisUrl, advertiseUrl: `http://127.0.0.1:${port}`, secret, ...options.cluster },
          },
          ...(options.app ? { app: options.app } : {}),
        }),
      );
    }
    await waitFor(() => replicas.every((r) => r.app.services.cluster?.link.up), { timeoutMs: 10_000, description: 'every replica connected to Redis' });
  } catch (error) {
    await close();
    throw error;
  }
  return { replicas, secret, bucket, close };
}

export interface MirrorCluster {
  hub: FakeHub;
  /** Replaceable: a test that stops Redis and starts another on the same port puts it here. */
  redis: RedisServer;
  cluster: StowageCluster;
  close(): Promise<void>;
}

/** A fake Docker Hub (docker.io, the default upstream; `team/**` hosted), a real Redis and `replicas` replicas. */
export async function startMirrorCluster(options: { replicas: number; upstream?: Record<string, unknown>; hub?: FakeHubOptions }): Promise<MirrorCluster> {
  const [hub, redis] = await Promise.all([startFakeHub({ auth: 'anonymous-token', ...options.hub }), startRedis()]);
  const cluster = await startStowageCluster({
    replicas: options.replicas,
    redisUrl: redis.url,
    config: { hosted: ['team/**'], upstreams: { 'docker.io': { url: hub.url, ...options.upstream } }, defaultUpstream: 'docker.io' },
  }).catch(async (error: unknown) => {
    await Promise.all([hub.close(), redis.stop()]);
    throw error;
  });
  const fixture: MirrorCluster = {
    hub,
    redis,
    cluster,
    async close() {
      await cluster.close();
      await Promise.all([hub.close(), fixture.redis.stop()]);
    },
  };
  return fixture;
}
