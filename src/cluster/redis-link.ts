import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/** How long one Redis command may take before the caller treats Redis as away (a frozen server never answers). */
const COMMAND_TIMEOUT_MS = 1_000;
/** How often the link pings Redis to notice it left or came back. */
const PING_INTERVAL_MS = 1_000;

export interface RedisLinkObserver {
  /** Redis became reachable (`true`) or stopped answering (`false`). */
  redisUp(up: boolean): void;
}

/**
 * The replicas' connection to Redis, and whether Redis answers right now.
 *
 * Every caller must work without Redis: `up` is false from the moment a command or a ping fails
 * until a ping answers again, and callers then skip Redis entirely (a fill is downloaded here, a
 * cache is not shared) instead of queueing behind a server that may never answer — commands are
 * never queued while disconnected and time out after a second. When Redis comes back, `onReturn`
 * handlers run: what was published meanwhile is lost, so caches that rely on it start over.
 *
 * Two connections: one for commands, one subscribed to the replicas' event channel (a subscribed
 * connection can do nothing else). ioredis reconnects and re-subscribes on its own.
 */
export class RedisLink {
  readonly commands: Redis;
  readonly subscriber: Redis;
  private alive = false;
  /** Whether Redis ever answered: its return after an outage is news for caches, the first answer is not. */
  private wasUp = false;
  private readonly returnHandlers: Array<() => void> = [];
  private readonly timer: NodeJS.Timeout;
  private pinging = false;
  private isClosed = false;

  constructor(
    url: string,
    private readonly deps: { logger: Logger; observer: RedisLinkObserver },
  ) {
    const options: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: 2_000,
      // Reconnect forever, backing off to 2 s: Redis coming back is the normal end of an outage.
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
      lazyConnect: false,
    };
    this.commands = new Redis(url, { ...options, connectionName: 'stowage' });
    this.subscriber = new Redis(url, { ...options, connectionName: 'stowage-events' });
    for (const connection of [this.commands, this.subscriber]) {
      // ioredis emits 'error' for every failed reconnect: logged when the state changes, not each time.
      connection.on('error', () => {});
    }
    this.commands.on('ready', () => void this.ping());
    this.commands.on('close', () => this.mark(false));
    deps.observer.redisUp(false);
    this.timer = setInterval(() => void this.ping(), PING_INTERVAL_MS);
    this.timer.unref();
  }

  /** Whether Redis answered lately; when false, callers go on without it. */
  get up(): boolean {
    return this.alive;
  }

  /** Whether the process closed the link (shutting down). */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Runs `handler` each time Redis answers again after an outage (not on the first connection). */
  onReturn(handler: () => void): void {
    this.returnHandlers.push(handler);
  }

  /**
   * Runs `command` against Redis; throws RedisUnavailable at once, without trying, while Redis is
   * away. A lost or frozen connection (timeout) marks Redis away and throws RedisUnavailable too:
   * the caller decides how to go on without it.
   */
  async run<T>(command: (redis: Redis) => Promise<T>): Promise<T> {
    if (!this.alive) throw new RedisUnavailable();
    try {
      return await command(this.commands);
    } catch (error) {
      if (isConnectionError(error)) {
        this.mark(false);
        throw new RedisUnavailable(error);
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    this.isClosed = true;
    clearInterval(this.timer);
    this.commands.disconnect();
    this.subscriber.disconnect();
  }

  private async ping(): Promise<void> {
    if (this.pinging || this.isClosed) return;
    this.pinging = true;
    try {
      await this.commands.ping();
      this.mark(true);
    } catch {
      this.mark(false);
    } finally {
      this.pinging = false;
    }
  }

  private mark(up: boolean): void {
    if (this.isClosed || up === this.alive) return;
    this.alive = up;
    this.deps.observer.redisUp(up);
    if (!up) {
      this.deps.logger.warn('Redis is not answering: each replica downloads and caches on its own until it is back');
      return;
    }
    if (this.wasUp) {
      this.deps.logger.info('Redis answers again: replicas coordinate again');
      for (const handler of this.returnHandlers) handler();
    } else {
      this.deps.logger.info('connected to Redis');
    }
    this.wasUp = true;
  }
}

/** Redis is away (or just stopped answering): the caller goes on without it. */
export class RedisUnavailable extends Error {
  override name = 'RedisUnavailable';
  constructor(cause?: unknown) {
    super('Redis is not available', cause === undefined ? undefined : { cause });
  }
}

/** A lost or frozen connection, as opposed to Redis refusing a command (a bug: thrown as it is). */
function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'ReplyError') return false;
  return true;
}
