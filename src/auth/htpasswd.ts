import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import bcrypt from 'bcryptjs';
import type { Logger } from 'pino';

/** What `htpasswd -B` writes: `$2y$` (or `$2a$`/`$2b$`), a two-digit cost, 22 characters of salt and 31 of hash. */
const BCRYPT = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
/** User names the rules give a meaning to; an htpasswd user with one of them could never be told apart. */
const RESERVED = new Set(['anonymous', '*']);
const DEFAULT_COST = 5; // htpasswd -B's default

export interface HtpasswdOptions {
  path: string;
  logger: Logger;
  now?: () => number;
  /** The file is stat'ed at most this often, on demand (default 1 s: a new user can sign in within a second or two). */
  checkIntervalMs?: number;
}

/**
 * The users of an htpasswd file, bcrypt entries only. Any other hash kind (MD5 `$apr1$`, SHA1,
 * crypt, plain) is refused with a warning naming the line: those are fast to brute-force.
 *
 * The file is re-read when its mtime, size or inode changes, checked lazily on use at most once per
 * `checkIntervalMs` (no timer, no watcher: works the same on bind mounts and Kubernetes secret
 * volumes, whose atomic symlink swaps inotify misses). `version` counts reloads, so caches of
 * verdicts know when to forget. A file that disappears or fails to parse keeps the last users.
 */
export class Htpasswd {
  private users = new Map<string, string>();
  /** Compared against when the user is unknown, so an unknown user costs what a wrong password does. */
  private dummyHash = bcrypt.hashSync(Math.random().toString(36), DEFAULT_COST);
  private stamp = '';
  private checkedAt = Number.NEGATIVE_INFINITY;
  private checking: Promise<void> | null = null;
  private readonly now: () => number;
  private readonly interval: number;
  version = 0;

  private constructor(private readonly options: HtpasswdOptions) {
    this.now = options.now ?? Date.now;
    this.interval = options.checkIntervalMs ?? 1000;
  }

  /** Loads the file; throws (start-up fails) when it cannot be read. */
  static async open(options: HtpasswdOptions): Promise<Htpasswd> {
    const htpasswd = new Htpasswd(options);
    await htpasswd.reload(true);
    return htpasswd;
  }

  /** Whether the file is due for a check (`refresh` would look at it). */
  get due(): boolean {
    return this.now() - this.checkedAt >= this.interval;
  }

  /** Re-reads the file if it changed and the last check is older than the interval. Never throws. */
  refresh(): Promise<void> {
    if (!this.due) return Promise.resolve();
    this.checking ??= this.reload(false).finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  has(user: string): boolean {
    return this.users.has(user);
  }

  /** True when `password` is the user's. Runs bcrypt whether or not the user exists. */
  async verify(user: string, password: string): Promise<boolean> {
    const hash = this.users.get(user);
    const matches = await bcrypt.compare(password, hash ?? this.dummyHash);
    return matches && hash !== undefined;
  }

  /** Changes when the user's password changes (binds refresh tokens to it); null for unknown users. */
  fingerprint(user: string): string | null {
    const hash = this.users.get(user);
    return hash === undefined ? null : createHash('sha256').update(hash).digest('base64url').slice(0, 16);
  }

  private async reload(initial: boolean): Promise<void> {
    const { path, logger } = this.options;
    this.checkedAt = this.now();
    try {
      const info = await stat(path);
      const stamp = `${info.ino}:${info.size}:${info.mtimeMs}`;
      if (stamp === this.stamp) return;
      const text = await readFile(path, 'utf8');
      this.stamp = stamp;
      this.users = this.parse(text);
      const costs = [...this.users.values()].map((hash) => Number(BCRYPT.exec(hash)![1]));
      const cost = costs.length > 0 ? Math.max(...costs) : DEFAULT_COST;
      if (bcrypt.getRounds(this.dummyHash) !== cost) this.dummyHash = await bcrypt.hash(Math.random().toString(36), cost);
      this.version++;
      if (!initial) logger.info({ users: this.users.size }, 'htpasswd file changed: users reloaded');
    } catch (e) {
      if (initial) throw new Error(`auth.htpasswd: cannot read ${path}: ${(e as Error).message}`);
      logger.warn({ err: e }, 'htpasswd file unreadable: keeping the users loaded before');
    }
  }

  private parse(text: string): Map<string, string> {
    const users = new Map<string, string>();
    text.split(/\r?\n/).forEach((raw, index) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const colon = line.indexOf(':');
      const user = colon > 0 ? line.slice(0, colon) : '';
      const hash = line.slice(colon + 1);
      const where = { file: this.options.path, line: index + 1, user };
      if (user === '' || RESERVED.has(user)) {
        this.options.logger.warn(where, 'htpasswd: line ignored (no user name, or a reserved one: anonymous, *)');
      } else if (!BCRYPT.test(hash)) {
        // The hash itself is never logged.
        this.options.logger.warn(where, 'htpasswd: line ignored: not a bcrypt hash (create users with htpasswd -B)');
      } else {
        users.set(user, hash);
      }
    });
    return users;
  }
}
