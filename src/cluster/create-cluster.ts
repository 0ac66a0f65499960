import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ClusterConfig } from '../config/config.js';
import type { LifecycleCoordinator } from '../lifecycle/coordinator.js';
import type { BlobHolders } from '../registry/blob-holders.js';
import type { ContentLock } from '../registry/content-lock.js';
import type { NotFoundCache } from '../registry/not-found-cache.js';
import { ClusterFills, type Replica } from './cluster-fills.js';
import type { ClusterObserver } from './cluster-observer.js';
import { MetadataSync, type MetadataCaches } from './metadata-sync.js';
import { PeerClient } from './peer-client.js';
import { PeerSignature, sessionKeyFromSecret } from './peer-signature.js';
import { RedisContentLock } from './redis-content-lock.js';
import { RedisCoordinator } from './redis-coordinator.js';
import { RedisFinishingMarks } from './redis-finishing-marks.js';
import type { RedisLink } from './redis-link.js';
import { RedisNotFoundCache } from './redis-not-found-cache.js';
import { SharedBlobHolders } from './shared-blob-holders.js';

/** What makes several replicas one Stowage (docs/deployment.md): built when `cluster` is configured. */
export interface Cluster {
  replica: Replica;
  link: RedisLink;
  /** Decides which replica downloads a missing blob (registry/fill-coordinator.ts). */
  fills: ClusterFills;
  signature: PeerSignature;
  observer: ClusterObserver;
  /** The UI's session-cookie key, the same on every replica (derived from `cluster.secret`). */
  sessionKey: Buffer;
  /** Tells the other replicas about metadata written here, and drops caches when they write. */
  sync: MetadataSync;
  notFound(now?: () => number): NotFoundCache;
  /** Upload sessions being completed on some replica (registry/finishing-uploads.ts). */
  finishing: RedisFinishingMarks;
  /** The automatic-mount index, fed by every replica's links. */
  holders: BlobHolders;
  /** Pushes on any replica and the cluster's one GC run exclude each other (registry/content-lock.ts). */
  content: ContentLock;
  /** One GC run at a time for the cluster; a scheduled run on one replica per interval. */
  coordinator: LifecycleCoordinator;
  close(): Promise<void>;
}

export function createCluster(
  config: ClusterConfig,
  deps: { logger: Logger; observer: ClusterObserver; caches: MetadataCaches; /** Opened by the caller (the storage may use it first). */ link: RedisLink },
): Cluster {
  const replica = { id: randomUUID(), url: config.advertiseUrl };
  const logger = deps.logger.child({ replica: replica.id });
  const { link } = deps;
  const signature = new PeerSignature(config.secret);
  const peers = new PeerClient({ signature, observer: deps.observer, logger });
  const fills = new ClusterFills({ link, replica, claimTtlMs: config.claimTtl, peers, observer: deps.observer, logger });
  const holders = new SharedBlobHolders((repo, digest, linked) => sync.publishLink(repo, digest, linked));
  const sync = new MetadataSync({ link, replicaId: replica.id, caches: deps.caches, logger, onLink: (repo, digest, linked) => holders.apply(repo, digest, linked) });
  logger.info({ advertiseUrl: replica.url }, 'cluster mode: coordinating with the other replicas through Redis');
  return {
    replica,
    link,
    fills,
    signature,
    observer: deps.observer,
    sessionKey: sessionKeyFromSecret(config.secret),
    sync,
    notFound: (now) => new RedisNotFoundCache(link, now),
    finishing: new RedisFinishingMarks(link, replica.id),
    holders,
    content: new RedisContentLock(link, deps.observer),
    coordinator: new RedisCoordinator(link, replica.id),
    async close() {
      sync.close();
      await peers.close();
      await link.close();
    },
  };
}
