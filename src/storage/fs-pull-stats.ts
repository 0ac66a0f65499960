import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { isNotFound, readJsonFile, writeFileAtomic } from './atomic-file.js';
import { BatchedPullStats, mergePulls, type PullBatchEntry, type RepositoryPulls } from './pull-stats.js';
import type { RepositoryKey } from './repository-key.js';

/** The file name inside `<root>/<key>/`: no repository name component can start with `_`. */
const FILE = '_pulls.json';

/**
 * Pull counts as one small JSON file per repository, `<root>/<repository key>/_pulls.json`
 * (`<data>/pulls/hosted/team/app/_pulls.json`). Every record is read once, on first use, and then
 * kept in memory — this process is the only writer of its data directory, as for all metadata.
 * Batches are applied one at a time, so two flushes never lose each other's counts.
 */
export class FsPullStats extends BatchedPullStats {
  private loaded: Promise<Map<RepositoryKey, RepositoryPulls>> | null = null;

  constructor(
    private readonly root: string,
    private readonly tmpDir: string,
  ) {
    super();
  }

  protected async apply(batch: readonly PullBatchEntry[]): Promise<void> {
    const all = await this.all();
    for (const [key, entries] of BatchedPullStats.byRepository(batch)) {
      const merged = mergePulls(all.get(key) ?? null, entries);
      await writeFileAtomic(join(this.root, key, FILE), JSON.stringify(merged), this.tmpDir);
      all.set(key, merged);
    }
  }

  protected all(): Promise<Map<RepositoryKey, RepositoryPulls>> {
    this.loaded ??= this.load();
    return this.loaded;
  }

  private async load(): Promise<Map<RepositoryKey, RepositoryPulls>> {
    const found = new Map<RepositoryKey, RepositoryPulls>();
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if (isNotFound(e)) return;
        throw e;
      }
      for (const entry of entries) {
        if (entry.isDirectory()) await walk(join(dir, entry.name));
        else if (entry.name === FILE) {
          const record = await readJsonFile<RepositoryPulls>(join(dir, entry.name));
          if (record) found.set(relative(this.root, dir).split(sep).join('/') as RepositoryKey, record);
        }
      }
    };
    await walk(this.root);
    return found;
  }
}
