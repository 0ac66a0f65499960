import { Counter, Gauge } from 'prom-client';
import type { ClusterObserver } from '../cluster/cluster-observer.js';
import type { StowageMetrics } from './metrics.js';

/**
 * The stowage_cluster_* metrics (docs/metrics.md), registered only when `cluster` is configured: a
 * single replica has no Redis to lose and no peers to stream from.
 */
export class ClusterMetrics implements ClusterObserver {
  private readonly redisConnected: Gauge;
  private readonly peerStreamsActive: Gauge;
  private readonly peerStreamsTotal: Counter<'outcome'>;
  private readonly peerServedBytes: Counter;
  private readonly takeovers: Counter;
  private readonly refused: Counter;
  private readonly unregistered: Counter;

  constructor(metrics: StowageMetrics) {
    const registers = [metrics.registry];
    this.redisConnected = new Gauge({
      name: 'stowage_cluster_redis_connected',
      help: '1 while Redis answers; 0 while it does not (each replica then downloads and caches on its own, serving what is stored).',
      registers,
    });
    this.peerStreamsActive = new Gauge({
      name: 'stowage_cluster_peer_streams',
      help: 'Client responses streaming a blob from the replica that downloads it, now.',
      registers,
    });
    this.peerStreamsTotal = new Counter({
      name: 'stowage_cluster_peer_streams_total',
      help: 'Client responses that streamed a blob from the replica downloading it, by outcome: complete, or cut (the peer failed or went away mid-body).',
      labelNames: ['outcome'],
      registers,
    });
    this.peerServedBytes = new Counter({
      name: 'stowage_cluster_peer_served_bytes_total',
      help: 'Blob bytes this replica sent to other replicas from downloads it owns.',
      registers,
    });
    this.takeovers = new Counter({
      name: 'stowage_cluster_fill_takeovers_total',
      help: 'Blob downloads this replica took over after the replica that claimed them stopped renewing its claim.',
      registers,
    });
    this.refused = new Counter({
      name: 'stowage_cluster_peer_refused_total',
      help: 'Requests to the peer endpoints without a valid cluster.secret signature (answered 404).',
      registers,
    });
    this.unregistered = new Counter({
      name: 'stowage_cluster_lock_unregistered_total',
      help: 'Pushes and hosted blob reads that went ahead without registering their content hold in Redis (Redis away): a GC run elsewhere could not see them.',
      registers,
    });
    this.redisConnected.set(0);
    this.peerStreamsActive.set(0);
    for (const outcome of ['complete', 'cut']) this.peerStreamsTotal.inc({ outcome }, 0);
    this.peerServedBytes.inc(0);
    this.takeovers.inc(0);
    this.refused.inc(0);
    this.unregistered.inc(0);
    metrics.httpRequestDuration.zero({ route: 'cluster', method: 'GET', status_class: '2xx' });
  }

  redisUp(up: boolean): void {
    this.redisConnected.set(up ? 1 : 0);
  }

  peerStreams(delta: number): void {
    this.peerStreamsActive.inc(delta);
  }

  peerStreamEnded(outcome: 'complete' | 'cut'): void {
    this.peerStreamsTotal.inc({ outcome });
  }

  servedToPeer(bytes: number): void {
    this.peerServedBytes.inc(bytes);
  }

  fillTakenOver(): void {
    this.takeovers.inc();
  }

  peerRefused(): void {
    this.refused.inc();
  }

  lockUnregistered(): void {
    this.unregistered.inc();
  }
}
