import type { RepositoryKey } from '../storage/repository-key.js';

/**
 * Where the marks of other replicas live (cluster/redis-finishing-marks.ts); absent for one process.
 * Keys are opaque strings.
 */
export interface SharedFinishingMarks {
  /** Marks `key` finished for the other replicas until `unmark`. Never throws, never waits. */
  mark(key: string): void;
  unmark(key: string): void;
  /** Whether another replica marked `key`; false when that cannot be known (Redis away). */
  markedElsewhere(key: string): Promise<boolean>;
}

/**
 * Upload sessions whose completing PUT or cancelling DELETE has arrived and is still running. From
 * that moment the session is finished as far as every other request is concerned: a GET or a late
 * PATCH is 404 BLOB_UPLOAD_UNKNOWN at once and reads nothing — without this, a PATCH sent after
 * the PUT could still be queued behind the PUT's last chunk and land before the commit, and a GET
 * would report the session as alive. Marked synchronously when the request reaches the repository,
 * so arrival order decides; released when the PUT or DELETE ends (a PUT that failed, say with a
 * wrong digest, leaves the session open to try again, as before). With replicas the mark is also
 * shared, so a request on another replica sees it too.
 * Keyed by repository and id: a request naming a session under another repository marks nothing
 * the owner would see.
 */
export class FinishingUploads {
  private readonly finishing = new Set<string>();

  constructor(private readonly shared: SharedFinishingMarks | null = null) {}

  /** Marks the session finished; the returned function releases the mark. */
  begin(repository: RepositoryKey, id: string): () => void {
    const key = `${repository}\n${id}`;
    this.finishing.add(key);
    this.shared?.mark(key);
    return () => {
      this.finishing.delete(key);
      this.shared?.unmark(key);
    };
  }

  /** Finished by a request in this process (answered at once, so arrival order decides). */
  has(repository: RepositoryKey, id: string): boolean {
    return this.finishing.has(`${repository}\n${id}`);
  }

  /** Finished by a request on another replica. */
  async elsewhere(repository: RepositoryKey, id: string): Promise<boolean> {
    return this.shared ? this.shared.markedElsewhere(`${repository}\n${id}`) : false;
  }
}
