import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContentLock, UseJournal } from '../registry/content-lock.js';
import type { ClusterObserver } from './cluster-observer.js';
import { RedisUnavailable, type RedisLink } from './redis-link.js';

/** Holds, sweeps and the journal are leases: renewed every third while in use, gone this long after their replica died. */
const LEASE_MS = 30_000;
/** How often a hold waiting for a sweep of its key, or a sweep waiting for holders, looks again. */
const POLL_MS = 20;

/** Now in Redis's clock (every replica's leases are compared on one clock). */
const NOW = `local t = redis.call('time') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * ARGV: hold id, lease, keys… → -1 while a sweep deletes one of the keys (the holder waits), else
 * the generation it was registered in. Registered under the current generation in
 * `stowage:lock:holds` (what a journal opening waits for) and per key (what a sweep waits for), and
 * noted in the open journal's `used` set.
 */
const HOLD = `${NOW}
for i = 3, #ARGV do if redis.call('exists', 'stowage:lock:sweep:' .. ARGV[i]) == 1 then return -1 end end
local gen = redis.call('get', 'stowage:lock:gen') or '0'
local journal = redis.call('get', 'stowage:lock:journal')
local expiry = now + tonumber(ARGV[2])
redis.call('zadd', 'stowage:lock:holds', expiry, gen .. ':' .. ARGV[1])
for i = 3, #ARGV do
  local k = 'stowage:lock:key:' .. ARGV[i]
  redis.call('zadd', k, expiry, ARGV[1])
  redis.call('pexpire', k, 2 * tonumber(ARGV[2]))
  if journal then redis.call('sadd', 'stowage:lock:used:' .. journal, ARGV[i]) end
end
return tonumber(gen)`;

/** ARGV: hold id, lease, generation, keys… — extends a long hold (a multi-GB upload completion). */
const RENEW_HOLD = `${NOW}
local expiry = now + tonumber(ARGV[2])
redis.call('zadd', 'stowage:lock:holds', 'XX', expiry, ARGV[3] .. ':' .. ARGV[1])
for i = 4, #ARGV do
  redis.call('zadd', 'stowage:lock:key:' .. ARGV[i], 'XX', expiry, ARGV[1])
  redis.call('pexpire', 'stowage:lock:key:' .. ARGV[i], 2 * tonumber(ARGV[2]))
end
return 1`;

/** ARGV: hold id, generation, keys… */
const RELEASE = `redis.call('zrem', 'stowage:lock:holds', ARGV[2] .. ':' .. ARGV[1])
for i = 3, #ARGV do redis.call('zrem', 'stowage:lock:key:' .. ARGV[i], ARGV[1]) end
return 1`;

/** ARGV: lease → the new generation, whose number is also the journal's. Holds from here on are noted in it. */
const OPEN_JOURNAL = `local gen = redis.call('incr', 'stowage:lock:gen')
redis.call('set', 'stowage:lock:journal', gen, 'PX', ARGV[1])
redis.call('del', 'stowage:lock:used:' .. gen)
return gen`;

/** ARGV: generation → how many live holds registered before it (the journal waits until none). */
const EARLIER_HOLDS = `${NOW}
redis.call('zremrangebyscore', 'stowage:lock:holds', '-inf', now)
local n = 0
for _, m in ipairs(redis.call('zrange', 'stowage:lock:holds', 0, -1)) do
  if tonumber(string.match(m, '^(%d+):')) < tonumber(ARGV[1]) then n = n + 1 end
end
return n`;

/** ARGV: generation, lease — keeps an open journal (and its `used` set) while its run goes on. */
const RENEW_JOURNAL = `if redis.call('get', 'stowage:lock:journal') == ARGV[1] then redis.call('pexpire', 'stowage:lock:journal', ARGV[2]) end
redis.call('pexpire', 'stowage:lock:used:' .. ARGV[1], 2 * tonumber(ARGV[2]))
return 1`;

const CLOSE_JOURNAL = `if redis.call('get', 'stowage:lock:journal') == ARGV[1] then redis.call('del', 'stowage:lock:journal') end
redis.call('del', 'stowage:lock:used:' .. ARGV[1])
return 1`;

/**
 * ARGV: key, sweeper id, lease, generation → 0: go (nobody holds the key, new holders wait for the
 * sweep mark); 1: holders still at work, try again (the mark already keeps new ones out); 2: the
 * key was held since the journal opened, leave it (the mark is gone).
 */
const TRY_SWEEP = `${NOW}
local mark = 'stowage:lock:sweep:' .. ARGV[1]
redis.call('set', mark, ARGV[2], 'PX', ARGV[3])
local holders = 'stowage:lock:key:' .. ARGV[1]
redis.call('zremrangebyscore', holders, '-inf', now)
if redis.call('zcard', holders) > 0 then return 1 end
if redis.call('sismember', 'stowage:lock:used:' .. ARGV[4], ARGV[1]) == 1 then redis.call('del', mark) return 2 end
return 0`;

const END_SWEEP = `if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end return 1`;

/**
 * The ContentLock of replicas (registry/content-lock.ts has the contract): holds, the GC journal and
 * sweeps live in Redis, so a push on any replica and the one GC run of the cluster (RedisCoordinator)
 * exclude each other exactly as they do in one process. A journal is a generation: opening one bumps
 * `stowage:lock:gen`, holds registered from then on are noted in it, and it waits until the holds of
 * earlier generations ended (on every replica). Every entry is a lease in Redis's clock, so a replica
 * that dies holding a key blocks a sweep for at most LEASE_MS.
 *
 * Without Redis a hold goes ahead unregistered — reads of hosted blobs and pushes keep working (issue
 * 13: losing Redis degrades) — and GC does not run (RedisCoordinator; a journal or a sweep fails
 * rather than deleting blind). The bound: a push on a replica cut off from Redis while Redis still
 * serves a GC run elsewhere is not seen by that run; docs/deployment.md says so.
 */
export class RedisContentLock implements ContentLock {
  private readonly sweeper = randomUUID();

  constructor(
    private readonly link: RedisLink,
    private readonly observer: Pick<ClusterObserver, 'lockUnregistered'>,
  ) {}

  async hold<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const id = randomUUID();
    let generation = -1;
    try {
      for (;;) {
        generation = (await this.link.run((redis) => redis.eval(HOLD, 0, id, LEASE_MS, ...keys))) as number;
        if (generation >= 0) break;
        await sleep(POLL_MS); // a GC run is deleting one of the keys: after it, the holder sees it gone
      }
    } catch (error) {
      if (!(error instanceof RedisUnavailable)) throw error;
      this.observer.lockUnregistered();
      return task();
    }
    const renew = setInterval(() => {
      this.link.run((redis) => redis.eval(RENEW_HOLD, 0, id, LEASE_MS, generation, ...keys)).catch(() => {});
    }, LEASE_MS / 3);
    renew.unref();
    try {
      return await task();
    } finally {
      clearInterval(renew);
      // Not awaited: the task's writes are done, and the release goes out at once on the command
      // connection behind them (the client does not wait a round trip for it). Lost with Redis: the lease ends it.
      this.link.run((redis) => redis.eval(RELEASE, 0, id, generation, ...keys)).catch(() => {});
    }
  }

  async openJournal(): Promise<UseJournal> {
    const generation = (await this.link.run((redis) => redis.eval(OPEN_JOURNAL, 0, LEASE_MS))) as number;
    const renew = setInterval(() => {
      this.link.run((redis) => redis.eval(RENEW_JOURNAL, 0, generation, LEASE_MS)).catch(() => {});
    }, LEASE_MS / 3);
    renew.unref();
    const used = new Set<string>();
    const journal: RedisJournal = {
      generation,
      used,
      usedSince: (key) => used.has(key),
      close: () => {
        clearInterval(renew);
        this.link.run((redis) => redis.eval(CLOSE_JOURNAL, 0, generation)).catch(() => {});
      },
    };
    try {
      while (((await this.link.run((redis) => redis.eval(EARLIER_HOLDS, 0, generation))) as number) > 0) await sleep(POLL_MS);
    } catch (error) {
      journal.close();
      throw error;
    }
    return journal;
  }

  /** Redis away at any step: throws, and nothing is deleted (the GC run fails and says so). */
  async sweep(journal: UseJournal, key: string, task: () => Promise<void>): Promise<boolean> {
    const { generation, used } = journal as RedisJournal;
    const mark = `stowage:lock:sweep:${key}`;
    let outcome: number;
    while ((outcome = (await this.link.run((redis) => redis.eval(TRY_SWEEP, 0, key, this.sweeper, LEASE_MS, generation))) as number) === 1) {
      await sleep(POLL_MS);
    }
    if (outcome === 2) {
      used.add(key);
      return false;
    }
    const renew = setInterval(() => {
      this.link.run((redis) => redis.pexpire(mark, LEASE_MS)).catch(() => {});
    }, LEASE_MS / 3);
    renew.unref();
    try {
      await task();
      return true;
    } finally {
      clearInterval(renew);
      await this.link.run((redis) => redis.eval(END_SWEEP, 1, mark, this.sweeper)).catch(() => {});
    }
  }
}

/** `usedSince` answers for the keys this lock's sweeps found used (Redis holds the journal itself). */
interface RedisJournal extends UseJournal {
  generation: number;
  used: Set<string>;
}
