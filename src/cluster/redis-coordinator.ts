import type { LifecycleCoordinator } from '../lifecycle/coordinator.js';
import { RegistryError } from '../oci/errors.js';
import { DELETE_IF_OWNER, RENEW_IF_OWNER } from './owned-keys.js';
import type { RedisLink } from './redis-link.js';

/** A run's lease: renewed every third of it while the run goes on, so a dead runner frees the name within it. */
const RUN_LEASE_MS = 30_000;
/** A scheduled run claims its slot for this share of the interval: replicas whose timers drift apart never both run in one interval. */
const SLOT_SHARE = 0.9;

/**
 * The LifecycleCoordinator of replicas (lifecycle/coordinator.ts): one GC run at a time for the whole
 * cluster, decided by a lease in Redis (`stowage:run:<name>` = this replica's id, SET NX, renewed
 * while the run goes on, deleted by its owner when it ends); a scheduled run is done by the replica
 * whose timer first takes the interval's slot (`stowage:scheduled:<name>`).
 *
 * Without Redis nothing runs: a GC run that cannot tell whether another replica is sweeping, or that
 * cannot register the sweep where pushes on other replicas see it (cluster/redis-content-lock.ts),
 * could delete what they rely on. So GC waits for Redis (503 on request, skipped on schedule).
 */
export class RedisCoordinator implements LifecycleCoordinator {
  constructor(
    private readonly link: RedisLink,
    private readonly replicaId: string,
  ) {}

  async runAlone<T>(name: string, task: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    const key = `stowage:run:${name}`;
    const taken = await this.link
      .run((redis) => redis.set(key, this.replicaId, 'PX', RUN_LEASE_MS, 'NX'))
      .catch(() => {
        throw new RegistryError('UNAVAILABLE', null, {
          message: `Redis is not available: no ${name} run until the replicas can coordinate again`,
          headers: { 'Retry-After': '30' },
        });
      });
    if (taken !== 'OK') return { ran: false };
    const renew = setInterval(() => {
      this.link.run((redis) => redis.eval(RENEW_IF_OWNER, 1, key, this.replicaId, RUN_LEASE_MS)).catch(() => {});
    }, RUN_LEASE_MS / 3);
    renew.unref();
    try {
      return { ran: true, value: await task() };
    } finally {
      clearInterval(renew);
      await this.link.run((redis) => redis.eval(DELETE_IF_OWNER, 1, key, this.replicaId)).catch(() => {});
    }
  }

  async claimScheduled(name: string, intervalMs: number): Promise<boolean> {
    const slot = Math.max(1, Math.floor(intervalMs * SLOT_SHARE));
    try {
      return (await this.link.run((redis) => redis.set(`stowage:scheduled:${name}`, this.replicaId, 'PX', slot, 'NX'))) === 'OK';
    } catch {
      return false;
    }
  }
}
