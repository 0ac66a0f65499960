/** The EvictionIndex contract (test/storage/contracts/) on the replicas' shared index, against a real Redis. */
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { NOOP_CLUSTER_OBSERVER } from '../../src/cluster/cluster-observer.js';
import { RedisEvictionIndex } from '../../src/cluster/redis-eviction-index.js';
import { RedisLink } from '../../src/cluster/redis-link.js';
import { evictionIndexContract } from '../storage/contracts/eviction-index-contract.js';
import { requireTool, waitFor } from '../support/processes.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';

let redis: RedisServer | null = null;
beforeAll(async () => {
  if (requireTool('redis-server')) redis = await startRedis();
});
afterAll(() => redis?.stop());

evictionIndexContract('redis', async ({ policy, isInUse, remove, now }) => {
  const link = new RedisLink(redis!.url, { logger: pino({ level: 'silent' }), observer: NOOP_CLUSTER_OBSERVER });
  await waitFor(() => link.up, { timeoutMs: 5_000, description: 'Redis connected' });
  return {
    index: new RedisEvictionIndex(link, policy, { isInUse, remove, evicted: () => {}, sizeChanged: () => {} }, now),
    cleanup: async () => {
      await link.run((r) => r.flushall());
      await link.close();
    },
  };
});
