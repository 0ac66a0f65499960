import type { SharedFinishingMarks } from '../registry/finishing-uploads.js';
import { DELETE_IF_OWNER } from './owned-keys.js';
import type { RedisLink } from './redis-link.js';

/**
 * Marks an upload session finished — its PUT or DELETE is running here — where the other replicas
 * see it: `stowage:finishing:<repository>\n<id>` holds this replica's id while it runs, so a late
 * PATCH or a GET of the session landing on another replica is BLOB_UPLOAD_UNKNOWN as it would be on
 * this one. The mark expires after an hour should this replica die holding it. Without Redis each
 * replica knows only its own marks (the upload store still refuses what does not fit).
 */
export class RedisFinishingMarks implements SharedFinishingMarks {
  constructor(
    private readonly link: RedisLink,
    private readonly replicaId: string,
  ) {}

  /** NX: a mark another replica holds stays its own (this request is then refused, see markedElsewhere). */
  mark(key: string): void {
    this.link.run((redis) => redis.set(redisKey(key), this.replicaId, 'PX', MARK_TTL_MS, 'NX')).catch(() => {});
  }

  unmark(key: string): void {
    this.link.run((redis) => redis.eval(DELETE_IF_OWNER, 1, redisKey(key), this.replicaId)).catch(() => {});
  }

  async markedElsewhere(key: string): Promise<boolean> {
    if (!this.link.up) return false;
    try {
      const owner = await this.link.run((redis) => redis.get(redisKey(key)));
      return owner !== null && owner !== this.replicaId;
    } catch {
      return false;
    }
  }
}

/** Longer than any completion takes (a multi-GB copy inside the store), short enough to forget a dead replica's. */
const MARK_TTL_MS = 3_600_000;
const redisKey = (key: string): string => `stowage:finishing:${key}`;
