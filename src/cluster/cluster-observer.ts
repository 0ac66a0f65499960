import type { RedisLinkObserver } from './redis-link.js';

/** What the cluster layer reports (metrics/cluster-metrics.ts turns it into stowage_cluster_* metrics). */
export interface ClusterObserver extends RedisLinkObserver {
  /** A response streaming a blob from the replica that downloads it started (+1) or ended (-1). */
  peerStreams(delta: number): void;
  /** Such a response ended: every byte sent, or cut (the peer failed or went away mid-body). */
  peerStreamEnded(outcome: 'complete' | 'cut'): void;
  /** This replica served a blob it downloads to another replica. */
  servedToPeer(bytes: number): void;
  /** This replica took over the download of a blob whose owner stopped renewing its claim. */
  fillTakenOver(): void;
  /** A request to a peer endpoint without a valid signature (a client, or a replica with another secret). */
  peerRefused(): void;
  /** A content hold (a push, a hosted blob read) went ahead without Redis: GC on another replica cannot see it. */
  lockUnregistered(): void;
}

export const NOOP_CLUSTER_OBSERVER: ClusterObserver = {
  redisUp() {},
  peerStreams() {},
  peerStreamEnded() {},
  servedToPeer() {},
  fillTakenOver() {},
  peerRefused() {},
  lockUnregistered() {},
};
