import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { Digest } from '../oci/digest.js';
import { fillHere, type FillCoordinator, type FillPlan } from '../registry/fill-coordinator.js';
import type { ClusterObserver } from './cluster-observer.js';
import { DELETE_IF_OWNER, RENEW_IF_OWNER } from './owned-keys.js';
import type { PeerClient } from './peer-client.js';
import { RedisUnavailable, type RedisLink } from './redis-link.js';


/** This replica, as its claims name it: a random id per process and where peers reach it. */
export interface Replica {
  id: string;
  url: string;
}

/**
 * Which replica downloads a missing blob: the one that claims it first in Redis
 * (`SET stowage:fill:<digest> "<id> <url>" NX PX claimTtl`). The owner renews its claim every third
 * of `claimTtl` while the download runs and deletes it when the fill settled (the blob is stored,
 * or the download failed and someone may try again). Everyone else streams the blob from the owner
 * as it arrives (PeerClient). An owner that dies stops renewing: its claim expires after `claimTtl`
 * and the next request takes the download over — a fresh download, since the dead replica's spool
 * was local to it. Claims only decide who downloads; correctness never depends on them: every fill
 * verifies its digest before anything is stored, so two replicas filling the same blob (Redis
 * away, a claim lost while a replica was frozen) cost a second download, never a wrong blob.
 */
export class ClusterFills implements FillCoordinator {
  private readonly value: string;
  /** Owners seen lately per digest: a claim won after one was seen is a takeover (for the metric). */
  private readonly seenOwners = new LRUCache<Digest, string>({ max: 10_000, ttl: 10 * 60_000 });

  constructor(
    private readonly deps: {
      link: RedisLink;
      replica: Replica;
      claimTtlMs: number;
      peers: PeerClient;
      observer: ClusterObserver;
      logger: Logger;
    },
  ) {
    this.value = `${deps.replica.id} ${deps.replica.url}`;
  }

  async plan(digest: Digest): Promise<FillPlan> {
    const { link, claimTtlMs } = this.deps;
    const key = claimKey(digest);
    try {
      // Twice: a claim that expires between our SET and GET leaves nothing to follow; claim it then.
      for (let round = 0; round < 2; round++) {
        if ((await link.run((redis) => redis.set(key, this.value, 'PX', claimTtlMs, 'NX'))) === 'OK') return this.claimed(key, digest);
        const owner = await link.run((redis) => redis.get(key));
        if (owner === null) continue;
        // Our own claim, taken by another request here a moment ago: its fill is about to start.
        if (owner === this.value) return fillHere();
        const [id, url] = owner.split(' ');
        if (!id || !url) return fillHere();
        this.seenOwners.set(digest, id);
        return { where: 'peer', owner: id, open: (range) => this.deps.peers.open(url, digest, range) };
      }
      return fillHere();
    } catch (e) {
      if (!(e instanceof RedisUnavailable)) this.deps.logger.warn({ err: e, digest }, 'claiming a blob fill failed; downloading it here');
      return fillHere();
    }
  }

  private claimed(key: string, digest: Digest): FillPlan {
    const previous = this.seenOwners.get(digest);
    if (previous !== undefined) {
      this.seenOwners.delete(digest);
      this.deps.observer.fillTakenOver();
      this.deps.logger.info({ digest, previousOwner: previous }, 'took over a blob download from a replica that stopped');
    }
    return { where: 'here', started: (done) => this.hold(key, digest, done) };
  }

  /** Renews the claim while the fill runs; releases it when the fill settled. */
  private hold(key: string, digest: Digest, done: Promise<unknown>): void {
    const { link, claimTtlMs, logger } = this.deps;
    const renew = setInterval(() => {
      link.run((redis) => redis.eval(RENEW_IF_OWNER, 1, key, this.value, String(claimTtlMs))).then(
        (renewed) => {
          if (renewed === 0) logger.warn({ digest }, 'lost the claim of a blob download (Redis was away or this replica stalled): another replica may download it too');
        },
        () => {}, // Redis away: the claim lapses, the download goes on here
      );
    }, Math.max(Math.floor(claimTtlMs / 3), 100));
    renew.unref();
    const release = (): void => {
      clearInterval(renew);
      link.run((redis) => redis.eval(DELETE_IF_OWNER, 1, key, this.value)).catch(() => {});
    };
    done.then(release, release);
  }
}

const claimKey = (digest: Digest): string => `stowage:fill:${digest}`;
