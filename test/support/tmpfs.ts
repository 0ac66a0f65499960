import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChecked } from './processes.js';

/**
 * A small tmpfs mounted by the test (a disk that really fills up: ENOSPC), as root. Unmount it in
 * afterAll, after every process writing to it closed. `mount` needs root: under CI=true not being
 * root fails the test (requireRoot), elsewhere the test is skipped.
 */
export interface Tmpfs {
  path: string;
  /** Free bytes an unprivileged writer could use now. */
  free(): Promise<number>;
  unmount(): Promise<void>;
}

export function requireRoot(): boolean {
  if (process.getuid?.() === 0) return true;
  if (process.env.CI) throw new Error('the full-disk tests mount a tmpfs and must run as root (CI is set, so this is an error, not a skip)');
  return false;
}

export async function mountTmpfs(bytes: number): Promise<Tmpfs> {
  const path = await mkdtemp(join(tmpdir(), 'stowage-tmpfs-'));
  await runChecked('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', path], { timeoutMs: 10_000 });
  return {
    path,
    free: async () => {
      const s = await statfs(path);
      return s.bavail * s.bsize;
    },
    unmount: async () => {
      await runChecked('umount', [path], { timeoutMs: 10_000 });
      await rm(path, { recursive: true, force: true });
    },
  };
}
