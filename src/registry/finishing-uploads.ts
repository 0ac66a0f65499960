import type { RepositoryKey } from '../storage/repository-key.js';

/**
 * Upload sessions whose completing PUT or cancelling DELETE has arrived and is still running. From
 * that moment the session is finished as far as every other request is concerned: a GET or a late
 * PATCH is 404 BLOB_UPLOAD_UNKNOWN at once and reads nothing — without this, a PATCH sent after
 * the PUT could still be queued behind the PUT's last chunk and land before the commit, and a GET
 * would report the session as alive. Marked synchronously when the request reaches the repository,
 * so arrival order decides; released when the PUT or DELETE ends (a PUT that failed, say with a
 * wrong digest, leaves the session open to try again, as before).
 * Keyed by repository and id: a request naming a session under another repository marks nothing
 * the owner would see.
 */
export class FinishingUploads {
  private readonly finishing = new Set<string>();

  /** Marks the session finished; the returned function releases the mark. */
  begin(repository: RepositoryKey, id: string): () => void {
    const key = `${repository}\n${id}`;
    this.finishing.add(key);
    return () => this.finishing.delete(key);
  }

  has(repository: RepositoryKey, id: string): boolean {
    return this.finishing.has(`${repository}\n${id}`);
  }
}
