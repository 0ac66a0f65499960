import type { Logger } from 'pino';
import { isDigest, type Digest } from '../oci/digest.js';
import type { MetadataChange } from '../storage/metadata-change-hook.js';
import type { RepositoryKey } from '../storage/repository-key.js';
import type { RedisLink } from './redis-link.js';

const CHANNEL = 'stowage:metadata';
/**
 * While Redis is away, what other replicas write cannot be heard of: every cache is dropped this
 * often instead, which bounds how stale a replica's view of the shared store gets during an outage.
 */
export const OUTAGE_FORGET_MS = 5_000;

/** What one process keeps in memory of the shared metadata, and how to drop it. */
export interface MetadataCaches {
  /** `repo` changed elsewhere (a write on another replica). */
  changed(repo: RepositoryKey, change: MetadataChange): void;
  /** Anything may have changed elsewhere: drop everything. */
  changedAll(): void;
}

/**
 * Keeps each replica's in-memory caches of the shared metadata (the metadata store's records and
 * links, the UI's repository views) in step with the other replicas' writes: every write here is
 * published on a Redis channel, and every write published by another replica drops what this one
 * cached of that repository. A push through one replica is thereby pullable through another as
 * soon as the message arrived (milliseconds), and a tag revalidated on one is fresh on all.
 *
 * Pub/sub loses what is published while a subscriber is away, so: while Redis does not answer,
 * every cache is dropped each OUTAGE_FORGET_MS (a replica reads the store again rather than trusting
 * what it kept), and once Redis answers again everything is dropped once more.
 */
export class MetadataSync {
  private readonly outage: NodeJS.Timeout;

  constructor(
    private readonly deps: {
      link: RedisLink;
      replicaId: string;
      caches: MetadataCaches;
      logger: Logger;
      /** Another replica linked or unlinked a blob (SharedBlobHolders.apply). */
      onLink?: (repo: RepositoryKey, digest: Digest, linked: boolean) => void;
    },
  ) {
    const { link, caches } = deps;
    link.subscriber.on('message', (channel: string, message: string) => {
      if (channel === CHANNEL) this.receive(message);
    });
    // On every (re)connection: commands are never queued while disconnected, so a subscription
    // asked for before the connection is up would be lost.
    const subscribe = (): void => {
      link.subscriber.subscribe(CHANNEL).catch((err: unknown) => deps.logger.warn({ err }, 'subscribing to metadata changes failed'));
    };
    link.subscriber.on('ready', subscribe);
    // The link may be older than this (services.ts opens it before the storage): connected already.
    if (link.subscriber.status === 'ready') subscribe();
    link.onReturn(() => caches.changedAll());
    this.outage = setInterval(() => {
      if (!link.up) caches.changedAll();
    }, OUTAGE_FORGET_MS);
    this.outage.unref();
  }

  /** Tells the other replicas that `repo` changed here. Never throws; never waits for Redis. */
  publish(repo: RepositoryKey, change: MetadataChange): void {
    const message = JSON.stringify({ from: this.deps.replicaId, repo, change });
    this.deps.link.run((redis) => redis.publish(CHANNEL, message)).catch(() => {});
  }

  /** Tells the other replicas that `repo` linked (or unlinked) `digest` here: their automatic-mount index follows. */
  publishLink(repo: RepositoryKey, digest: Digest, linked: boolean): void {
    const message = JSON.stringify({ from: this.deps.replicaId, repo, digest, linked });
    this.deps.link.run((redis) => redis.publish(CHANNEL, message)).catch(() => {});
  }

  close(): void {
    clearInterval(this.outage);
  }

  private receive(message: string): void {
    let parsed: { from?: unknown; repo?: unknown; change?: unknown; digest?: unknown; linked?: unknown };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch {
      return;
    }
    if (parsed.from === this.deps.replicaId || typeof parsed.repo !== 'string') return;
    if (typeof parsed.digest === 'string' && isDigest(parsed.digest) && typeof parsed.linked === 'boolean') {
      this.deps.onLink?.(parsed.repo as RepositoryKey, parsed.digest, parsed.linked);
      return;
    }
    if (!isChange(parsed.change)) return;
    this.deps.caches.changed(parsed.repo as RepositoryKey, parsed.change);
  }
}

const CHANGES: readonly string[] = ['tags', 'added', 'removed', 'links'] satisfies MetadataChange[];
const isChange = (value: unknown): value is MetadataChange => typeof value === 'string' && CHANGES.includes(value);
