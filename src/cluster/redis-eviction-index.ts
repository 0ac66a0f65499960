import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Digest } from '../oci/digest.js';
import type { EvictionPolicy, EvictionTotals, SharedEvictionIndex } from '../storage/eviction-index.js';
import type { EvictionHooks } from '../storage/local-eviction-index.js';
import { DELETE_IF_OWNER } from './owned-keys.js';
import { RedisUnavailable, type RedisLink } from './redis-link.js';

const P = 'stowage:cache:';
const LRU = `${P}lru`; // sorted set: digest → last use (ms)
const SIZES = `${P}size`; // hash: digest → bytes
const TOTAL = `${P}total`; // bytes of every indexed digest
const PINS = `${P}pins`;
const EVICTING = `${P}evicting`; // the one evictor of the cluster
const BUILT = `${P}built`; // set once the index was rebuilt from the store
const BUILDING = `${P}building`;

/** Answers [total bytes, objects]. */
const COUNTS = `return {tonumber(redis.call('get', '${TOTAL}') or '0'), redis.call('hlen', '${SIZES}')}`;
/** ARGV: digest, size, last use. Counted once however often it is added; last use only moves forward. */
const ADD = `if redis.call('hsetnx', '${SIZES}', ARGV[1], ARGV[2]) == 1 then redis.call('incrby', '${TOTAL}', ARGV[2]) end
redis.call('zadd', '${LRU}', 'GT', ARGV[3], ARGV[1])
${COUNTS}`;
/** ARGV: digest. Drops it from the LRU order and the totals. */
const FORGET = `local size = redis.call('hget', '${SIZES}', ARGV[1])
if size then redis.call('hdel', '${SIZES}', ARGV[1]) redis.call('decrby', '${TOTAL}', size) end
redis.call('zrem', '${LRU}', ARGV[1])
${COUNTS}`;
/**
 * ARGV: digest, used-before bound → its size, taken out of the LRU order (no other evictor or pass
 * picks it again); -1 when it is pinned, unknown, or was used since the plan (left alone).
 */
const CLAIM = `if redis.call('sismember', '${PINS}', ARGV[1]) == 1 then return -1 end
local used = redis.call('zscore', '${LRU}', ARGV[1])
if not used or tonumber(used) >= tonumber(ARGV[2]) then return -1 end
redis.call('zrem', '${LRU}', ARGV[1])
return tonumber(redis.call('hget', '${SIZES}', ARGV[1]) or '0')`;

/** Candidates read per round trip while planning a pass. */
const PAGE = 200;
/** The evictor's lease, renewed every third while its pass deletes. */
const EVICTOR_LEASE_MS = 60_000;
/** A touch reaches Redis at most once a second per digest (as the local index re-orders). */
const TOUCH_INTERVAL_MS = 1000;
/** How often a replica waiting for another's rebuild looks again. */
const BUILD_POLL_MS = 250;
/** How often each replica reads the cluster's totals for its gauges (other replicas' fills and evictions change them). */
const REFRESH_MS = 5_000;
/** "Not used before" for a removal on request: any last use. */
const ANY_TIME = 8.64e15;

/**
 * The eviction bookkeeping of replicas sharing a bucket (issue 13: "the LRU budget and pins are
 * global"): one budget, `storage.maxSize`, for the bucket, not per replica. In Redis: the LRU order
 * (a sorted set by last use), sizes (a hash), the running total and the pins; one evictor at a time
 * for the cluster (a lease), which any replica starts when an addition takes the total over the
 * budget. Touches from every replica move a blob forward, pins made on one replica hold on all.
 *
 * What each replica knows only of itself: which blobs it is sending right now. Another replica's
 * reader is protected by the window (`protectMs`, 10 min after a use any replica recorded), as a
 * client pulling a layer touched it when it started.
 *
 * Without Redis nothing is evicted (the budget waits); additions are lost to the index until the
 * next rebuild — run when Redis returns, as after Redis lost its data — and removals (content
 * pushed into a hosted repository: it must never be evicted) are kept and replayed on return.
 */
export class RedisEvictionIndex implements SharedEvictionIndex {
  private readonly id = randomUUID();
  private readonly touched = new LRUCache<Digest, number>({ max: 10_000 });
  /** Forgotten while Redis was away: replayed when it answers again. */
  private readonly pendingForgets = new Set<Digest>();
  /** Pinned here (applied again on every replica at start): kept even if Redis could not hear it. */
  private readonly pins = new Set<Digest>();
  private lastTotals: EvictionTotals = { bytes: 0, objects: 0, pinnedBytes: 0 };
  private running: Promise<number> | null = null;
  private rebuild: (() => Promise<void>) | null = null;

  constructor(
    private readonly link: RedisLink,
    private readonly policy: EvictionPolicy,
    private readonly hooks: EvictionHooks,
    private readonly now: () => number = Date.now,
  ) {
    link.onReturn(() => void this.converge());
    const refresh = setInterval(() => {
      if (link.closed) clearInterval(refresh);
      else if (link.up) void this.counts(COUNTS);
    }, REFRESH_MS);
    refresh.unref();
  }

  async add(digest: Digest, size: number, lastUsed = this.now()): Promise<void> {
    this.pendingForgets.delete(digest);
    const total = await this.counts(ADD, digest, size, Math.round(lastUsed));
    if (this.policy.maxBytes > 0 && total > this.policy.maxBytes) void this.evict();
  }

  touch(digest: Digest): void {
    const now = this.now();
    const last = this.touched.get(digest);
    if (last !== undefined && now - last < TOUCH_INTERVAL_MS && now >= last) return;
    this.touched.set(digest, now);
    // XX: only what is indexed (hosted content is not); GT: never back in time.
    this.link.run((redis) => redis.zadd(LRU, 'XX', 'GT', now, digest)).catch(() => {});
  }

  async forget(digest: Digest): Promise<void> {
    if ((await this.counts(FORGET, digest)) < 0) this.pendingForgets.add(digest);
  }

  async pin(digest: Digest): Promise<void> {
    this.pins.add(digest);
    await this.link.run((redis) => redis.sadd(PINS, digest)).catch(() => {});
  }

  async unpin(digest: Digest): Promise<void> {
    this.pins.delete(digest);
    await this.link.run((redis) => redis.srem(PINS, digest)).catch(() => {});
  }

  async evict(): Promise<void> {
    if (this.running || this.policy.maxBytes <= 0) return void (await this.running);
    await this.exclusive(async () => {
      const total = Number(await this.link.run((redis) => redis.get(TOTAL)));
      return total > this.policy.maxBytes ? this.pass(total, this.policy.lowBytes) : 0;
    });
  }

  /** Evicts at least `bytes` whatever the budget (a full disk, lifecycle/free-space.ts); the bytes freed. */
  async shrink(bytes: number): Promise<number> {
    while (this.running) await this.running;
    return this.exclusive(async () => {
      const total = Number(await this.link.run((redis) => redis.get(TOTAL)));
      return this.pass(total, Math.max(0, total - bytes));
    });
  }

  async evictNow(digest: Digest): Promise<number> {
    if (this.pins.has(digest) || this.hooks.isInUse(digest)) return 0;
    try {
      return await this.remove(digest, ANY_TIME);
    } catch (error) {
      if (error instanceof RedisUnavailable) return 0;
      throw error;
    }
  }

  async totals(): Promise<EvictionTotals> {
    try {
      const [[bytes, objects], pinned] = await Promise.all([
        this.link.run((redis) => redis.eval(COUNTS, 0)) as Promise<[number, number]>,
        this.link.run((redis) => redis.smembers(PINS)),
      ]);
      const digests = [...new Set([...pinned, ...this.pins])];
      const sizes = digests.length > 0 ? await this.link.run((redis) => redis.hmget(SIZES, ...digests)) : [];
      const pinnedBytes = sizes.reduce((sum, size) => sum + Number(size ?? 0), 0);
      this.lastTotals = { bytes, objects, pinnedBytes };
    } catch (error) {
      if (!(error instanceof RedisUnavailable)) throw error;
    }
    return this.lastTotals;
  }

  /**
   * Builds the index from the store once for the cluster: the first replica to start (or the first
   * after Redis lost its data) lists the bucket; the others wait for it. `rebuild` adds through
   * `add`, which counts each digest once, so a second build (its builder died) is harmless.
   */
  async rebuildOnce(rebuild: () => Promise<void>): Promise<void> {
    this.rebuild = rebuild;
    while (!this.link.up) await new Promise((resolve) => setTimeout(resolve, BUILD_POLL_MS));
    await this.converge();
  }

  private async converge(): Promise<void> {
    for (const digest of this.pendingForgets) if ((await this.counts(FORGET, digest)) >= 0) this.pendingForgets.delete(digest);
    if (this.pins.size > 0) await this.link.run((redis) => redis.sadd(PINS, ...this.pins)).catch(() => {});
    if (!this.rebuild) return;
    try {
      while (!(await this.link.run((redis) => redis.exists(BUILT)))) {
        if ((await this.link.run((redis) => redis.set(BUILDING, this.id, 'PX', 10 * 60_000, 'NX'))) === 'OK') {
          try {
            await this.rebuild();
            await this.link.run((redis) => redis.set(BUILT, String(this.now())));
          } finally {
            await this.link.run((redis) => redis.eval(DELETE_IF_OWNER, 1, BUILDING, this.id)).catch(() => {});
          }
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, BUILD_POLL_MS));
      }
      // Forgets that raced the listing (content pushed while it ran) are applied again after it.
      for (const digest of this.pendingForgets) if ((await this.counts(FORGET, digest)) >= 0) this.pendingForgets.delete(digest);
    } catch (error) {
      if (!(error instanceof RedisUnavailable)) throw error;
    }
  }

  /** Runs a script that answers [total, objects] and reports them; the total, or -1 when Redis is away. */
  private async counts(script: string, ...args: Array<string | number>): Promise<number> {
    try {
      const [bytes, objects] = (await this.link.run((redis) => redis.eval(script, 0, ...args))) as [number, number];
      this.hooks.sizeChanged(bytes, objects);
      return bytes;
    } catch (error) {
      if (error instanceof RedisUnavailable) return -1;
      throw error;
    }
  }

  /** One pass at a time here, and one evictor for the cluster: another replica's pass does the work. */
  private exclusive(task: () => Promise<number>): Promise<number> {
    const run = (async () => {
      try {
        if ((await this.link.run((redis) => redis.set(EVICTING, this.id, 'PX', EVICTOR_LEASE_MS, 'NX'))) !== 'OK') return 0;
      } catch {
        return 0; // without Redis the budget waits
      }
      const renew = setInterval(() => {
        this.link.run((redis) => redis.pexpire(EVICTING, EVICTOR_LEASE_MS)).catch(() => {});
      }, EVICTOR_LEASE_MS / 3);
      renew.unref();
      try {
        return await task();
      } catch (error) {
        if (error instanceof RedisUnavailable) return 0;
        throw error;
      } finally {
        clearInterval(renew);
        await this.link.run((redis) => redis.eval(DELETE_IF_OWNER, 1, EVICTING, this.id)).catch(() => {});
      }
    })();
    this.running = run;
    const clear = (): void => {
      if (this.running === run) this.running = null;
    };
    run.then(clear, clear);
    return run;
  }

  /** Least recently used first, skipping what is protected, pinned or read here, down to `target`. */
  private async pass(total: number, target: number): Promise<number> {
    const protectedSince = this.now() - this.policy.protectMs;
    const plan: Digest[] = [];
    let planned = total;
    for (let offset = 0; planned > target; offset += PAGE) {
      const page = (await this.link.run((redis) => redis.zrangebyscore(LRU, '-inf', `(${protectedSince}`, 'LIMIT', offset, PAGE))) as Digest[];
      if (page.length === 0) break;
      const [sizes, pinned] = await Promise.all([
        this.link.run((redis) => redis.hmget(SIZES, ...page)),
        this.link.run((redis) => redis.smismember(PINS, ...page)),
      ]);
      page.forEach((digest, i) => {
        if (planned <= target || pinned[i] === 1 || this.pins.has(digest) || this.hooks.isInUse(digest)) return;
        plan.push(digest);
        planned -= Number(sizes[i] ?? 0);
      });
    }
    let freed = 0;
    for (const digest of plan) {
      // Used, pinned or read here since the plan: left alone.
      if (this.pins.has(digest) || this.hooks.isInUse(digest)) continue;
      freed += await this.remove(digest, protectedSince);
    }
    return freed;
  }

  /** Claims `digest` (unless used since `usedBefore` or pinned), deletes its bytes, then drops it from the totals. */
  private async remove(digest: Digest, usedBefore: number): Promise<number> {
    const size = (await this.link.run((redis) => redis.eval(CLAIM, 0, digest, usedBefore))) as number;
    if (size < 0) return 0;
    try {
      await this.hooks.remove(digest);
    } catch (error) {
      // Still stored: back into the order (as used now), to be tried by a later pass.
      await this.link.run((redis) => redis.zadd(LRU, this.now(), digest)).catch(() => {});
      throw error;
    }
    // The total drops once the bytes are gone, so it never under-reports what the bucket holds.
    await this.counts(FORGET, digest);
    this.hooks.evicted(size);
    return size;
  }
}
