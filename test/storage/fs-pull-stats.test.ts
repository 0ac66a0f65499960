import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsPullStats } from '../../src/storage/fs-pull-stats.js';
import { pullStatsContract } from './contracts/pull-stats-contract.js';

pullStatsContract('fs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'stowage-pulls-'));
  await mkdir(join(dir, 'tmp'));
  const open = (): FsPullStats => new FsPullStats(join(dir, 'pulls'), join(dir, 'tmp'));
  return { store: open(), reopen: async () => open(), close: () => rm(dir, { recursive: true, force: true }) };
});
